// A doubly-linked intrusive list: nodes live inside the objects (often inside a
// coroutine frame's awaiter), so waiting costs no allocation. Not thread-safe.
#pragma once

namespace corun::detail {

struct ListNode {
  ListNode* prev = nullptr;
  ListNode* next = nullptr;
  bool linked() const noexcept { return prev != nullptr; }
};

class IntrusiveList {
 public:
  IntrusiveList() noexcept { head_.prev = head_.next = &head_; }
  // Nodes still linked are let go (left unlinked), so their owners, destroyed
  // later, do not write into a list that is gone (Loop::close destroys pending
  // frames in whatever order they are).
  ~IntrusiveList() {
    while (pop_front() != nullptr) {
    }
  }
  IntrusiveList(const IntrusiveList&) = delete;
  IntrusiveList& operator=(const IntrusiveList&) = delete;

  bool empty() const noexcept { return head_.next == &head_; }
  void push_back(ListNode* n) noexcept {
    n->prev = head_.prev;
    n->next = &head_;
    head_.prev->next = n;
    head_.prev = n;
  }
  static void unlink(ListNode* n) noexcept {
    if (!n->prev) return;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = nullptr;
  }
  ListNode* front() const noexcept { return empty() ? nullptr : head_.next; }
  ListNode* pop_front() noexcept {
    ListNode* n = front();
    if (n) unlink(n);
    return n;
  }
  // Iteration that tolerates unlinking the current node.
  template <class F>
  void for_each(F&& f) {
    for (ListNode* n = head_.next; n != &head_;) {
      ListNode* next = n->next;
      f(n);
      n = next;
    }
  }

 private:
  ListNode head_;
};

}  // namespace corun::detail
