#include "corun/core/async_generator.hpp"

#include <vector>

namespace corun::detail {

Task<void> close_async_generator(AsyncGenLink& link) {
  link.closing = true;
  co_await GenResume{&link};
  IntrusiveList::unlink(&link);
  if (!link.handle.done()) throw RuntimeError("async generator ignored GeneratorExit");
  std::exception_ptr e = std::exchange(link.promise->exception_, nullptr);
  if (e) {
    try {
      std::rethrow_exception(e);
    } catch (const GeneratorExit&) {
      // the expected way for a generator to end when closed
    }
  }
}

Task<void> shutdown_async_generators(Loop& loop) {
  std::vector<AsyncGenLink*> links;
  loop.async_generators().for_each(
      [&](ListNode* n) { links.push_back(static_cast<AsyncGenLink*>(n)); });
  for (AsyncGenLink* link : links) {
    try {
      co_await close_async_generator(*link);
    } catch (const std::exception&) {
      loop.call_exception_handler({"an error occurred during closing of an asynchronous generator",
                                   std::current_exception(),
                                   {}});
    }
  }
}

}  // namespace corun::detail
