// corun::fetch demo server: the built-in sample pages `corun fetch --demo`
// serves on loopback with corun's own HTTP/1.1 server (corun::net), so the
// tool can be tried on a machine with no internet. The pages are GB18030
// listing pages like the original scraper's (<meta ... charset=gb2312>),
// generated at build time by src/fetch/make_demo_pages.py with Python's codec.
//
//   GET /p/N.html   (N from 0 to count-1) the sample page N, Content-Type
//                   text/html without a charset (the <meta> decides, as on
//                   the original site); keep-alive
//   anything else   404
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "corun/core/task.hpp"
#include "corun/net.hpp"

namespace corun::fetch {

// The bytes served for /p/N.html.
std::string demo_page(std::size_t n);
// How many distinct page templates there are (pages repeat with their number
// changed).
std::size_t demo_template_count() noexcept;

// Listens on host:port (port 0: a free one) until the Server is closed.
Task<net::Server> start_demo_server(std::string host, std::uint16_t port);

// "http://host:port/p/0.html" ... for count pages.
std::vector<std::string> demo_urls(std::string_view host, std::uint16_t port, std::size_t count);

}  // namespace corun::fetch
