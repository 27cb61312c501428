// corun::detail::ignore_sigpipe_once: the SIGPIPE policy of every layer that writes to
// sockets (corun::net, corun::redis). A write to a socket the peer has reset raises
// SIGPIPE, whose default action kills the process. Like Python (which ignores it at
// start-up), corun ignores it the first time a layer handles sockets, unless the
// program chose a disposition itself; the write then fails with EPIPE, which the
// layer reports as its connection error. Thread-safe.
#pragma once

namespace corun::detail {

void ignore_sigpipe_once();

}  // namespace corun::detail
