// Small-object pool for coroutine frames, task states and loop callbacks.
// A million tasks means two million small allocations; glibc's malloc spends
// half of a trivial task's time there and adds a header to each. The pool
// hands out 16-byte size classes carved from 64 KiB slabs, with a small free
// list per thread and a shared depot that moves batches between threads (a
// thread that frees what another allocated hands the surplus back). Slabs are
// kept for the life of the process. Sanitizer builds use plain new/delete
// so ASan still sees every use-after-free.
#pragma once

#include <cstddef>
#include <new>

namespace corun::detail {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kPoolEnabled = false;
#else
inline constexpr bool kPoolEnabled = true;
#endif
inline constexpr std::size_t kPoolMaxSize = 1024;

void* pool_allocate_slow(std::size_t size);
void pool_free_slow(void* p, std::size_t size) noexcept;

inline void* pool_allocate(std::size_t size) {
  if constexpr (!kPoolEnabled) return ::operator new(size);
  return pool_allocate_slow(size);
}
inline void pool_free(void* p, std::size_t size) noexcept {
  if constexpr (!kPoolEnabled) {
    (void)size;
    return ::operator delete(p);
  }
  pool_free_slow(p, size);
}

// Gives a class pooled allocation (sized delete: works through virtual destructors).
struct Pooled {
  static void* operator new(std::size_t size) { return pool_allocate(size); }
  static void operator delete(void* p, std::size_t size) noexcept { pool_free(p, size); }
};

}  // namespace corun::detail
