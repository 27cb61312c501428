#include "corun/core/detail/pool.hpp"

#include <pthread.h>

#include <atomic>
#include <mutex>
#include <vector>

namespace corun::detail {
namespace {

constexpr std::size_t kGranule = 16;
constexpr std::size_t kClasses = kPoolMaxSize / kGranule;
constexpr std::size_t kSlabSize = std::size_t{64} * 1024;
// A thread keeps at most kLocalMax free blocks per class; beyond that it hands
// a batch of kBatch to the shared depot, where threads that allocate more than
// they free (a producer feeding a loop thread) pick them up. So memory stays
// bounded by what is live plus the caches, whatever thread frees what.
constexpr std::size_t kLocalMax = 512;
constexpr std::size_t kBatch = 256;

struct FreeNode {
  FreeNode* next;
};

struct Batch {
  FreeNode* head;
  std::size_t count;
};

struct Depot {
  std::mutex mutex;
  std::vector<Batch> batches[kClasses];
  std::atomic<std::size_t> available[kClasses] = {};  // batches, read without the lock
  std::vector<void*> slabs;                           // every slab stays reachable: no leak reports
};

Depot& depot() {
  static auto* d = new Depot();
  return *d;
}

// fork() copies only the thread that calls it. Had another thread held the
// depot's lock at that moment, the child's first spill or refill would wait
// for it forever. So the lock is taken around fork() and given back on both
// sides: the depot is whole in the child, and its batches are the child's
// copy to use. Registered when the library is loaded, before anything that
// registers later (Python's runtime) and may hold its own lock while it
// allocates: handlers registered first take their lock last.
void lock_depot_for_fork() {
  depot().mutex.lock();
}
void unlock_depot_after_fork() {
  depot().mutex.unlock();
}
[[maybe_unused]] const int g_fork_handlers =
    ::pthread_atfork(&lock_depot_for_fork, &unlock_depot_after_fork, &unlock_depot_after_fork);

struct ThreadPool {
  FreeNode* free[kClasses] = {};
  std::size_t count[kClasses] = {};
  char* cursor = nullptr;
  char* end = nullptr;

  void* carve(std::size_t bytes) {
    if (static_cast<std::size_t>(end - cursor) < bytes) {
      void* slab = ::operator new(kSlabSize);
      {
        Depot& d = depot();
        std::lock_guard lock(d.mutex);
        d.slabs.push_back(slab);
      }
      cursor = static_cast<char*>(slab);
      end = cursor + kSlabSize;
    }
    void* p = cursor;
    cursor += bytes;
    return p;
  }

  bool refill(std::size_t c) {
    Depot& d = depot();
    if (d.available[c].load(std::memory_order_relaxed) == 0) return false;
    std::lock_guard lock(d.mutex);
    if (d.batches[c].empty()) return false;
    Batch b = d.batches[c].back();
    d.batches[c].pop_back();
    d.available[c].store(d.batches[c].size(), std::memory_order_relaxed);
    free[c] = b.head;
    count[c] = b.count;
    return true;
  }

  void spill(std::size_t c) {
    FreeNode* head = free[c];
    FreeNode* tail = head;
    for (std::size_t i = 1; i < kBatch; ++i) tail = tail->next;
    free[c] = tail->next;
    tail->next = nullptr;
    count[c] -= kBatch;
    Depot& d = depot();
    std::lock_guard lock(d.mutex);
    d.batches[c].push_back({head, kBatch});
    d.available[c].store(d.batches[c].size(), std::memory_order_relaxed);
  }
};

thread_local ThreadPool t_pool;

inline std::size_t class_of(std::size_t size) {
  return (size + kGranule - 1) / kGranule - 1;
}

}  // namespace

void* pool_allocate_slow(std::size_t size) {
  if (size == 0 || size > kPoolMaxSize) return ::operator new(size);
  std::size_t c = class_of(size);
  ThreadPool& pool = t_pool;
  if (pool.free[c] || pool.refill(c)) {
    FreeNode* n = pool.free[c];
    pool.free[c] = n->next;
    --pool.count[c];
    return n;
  }
  return pool.carve((c + 1) * kGranule);
}

void pool_free_slow(void* p, std::size_t size) noexcept {
  if (!p) return;
  if (size == 0 || size > kPoolMaxSize) {
    ::operator delete(p);
    return;
  }
  std::size_t c = class_of(size);
  ThreadPool& pool = t_pool;
  auto* n = static_cast<FreeNode*>(p);
  n->next = pool.free[c];
  pool.free[c] = n;
  if (++pool.count[c] > kLocalMax) pool.spill(c);
}

}  // namespace corun::detail
