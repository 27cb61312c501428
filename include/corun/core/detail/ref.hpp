// Intrusive reference counting for corun's loop objects (tasks, futures,
// callbacks). Like the objects themselves (asyncio's Task is not thread-safe
// either), references belong to the loop's thread: the count is a plain integer,
// which keeps a task step free of atomic instructions.
#pragma once

#include <cstdint>
#include <utility>

#include "corun/core/detail/pool.hpp"

namespace corun::detail {

class RefCounted : public Pooled {
 public:
  RefCounted() = default;
  RefCounted(const RefCounted&) = delete;
  RefCounted& operator=(const RefCounted&) = delete;
  virtual ~RefCounted() = default;

  void add_ref() noexcept { ++refs_; }
  void release() noexcept {
    if (--refs_ == 0) delete this;
  }
  // The caller's reference is the only one: nothing else can reach the object.
  bool sole_reference() const noexcept { return refs_ == 1; }

 protected:
  std::uint32_t refs_ = 0;
  // Spare room next to the count, used by subclasses for flags (keeps objects small).
  std::uint8_t flags_[3] = {};
  bool handle_cancelled_ = false;
};

template <class T>
class Ref {
 public:
  Ref() noexcept = default;
  explicit Ref(T* p) noexcept : p_(p) {
    if (p_) p_->add_ref();
  }
  Ref(const Ref& o) noexcept : Ref(o.p_) {}
  Ref(Ref&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  template <class U>
  Ref(const Ref<U>& o) noexcept : Ref(static_cast<T*>(o.get())) {}
  Ref& operator=(Ref o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }
  ~Ref() {
    if (p_) p_->release();
  }
  T* get() const noexcept { return p_; }
  T* operator->() const noexcept { return p_; }
  T& operator*() const noexcept { return *p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }
  void reset() noexcept { Ref().swap(*this); }
  void swap(Ref& o) noexcept { std::swap(p_, o.p_); }
  friend bool operator==(const Ref& a, const Ref& b) noexcept { return a.p_ == b.p_; }

 private:
  T* p_ = nullptr;
};

}  // namespace corun::detail
