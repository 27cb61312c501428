// corun::detail::ignore_sigpipe_once (see include/corun/core/detail/sigpipe.hpp).
#include "corun/core/detail/sigpipe.hpp"

#include <csignal>
#include <mutex>

namespace corun::detail {

void ignore_sigpipe_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL &&
        !(current.sa_flags & SA_SIGINFO)) {
      std::signal(SIGPIPE, SIG_IGN);
    }
  });
}

}  // namespace corun::detail
