// What a request puts on the wire from its caller's strings, checked before
// libcurl sees them: libcurl sends a method, a header or a cookie as given, so
// a CR or LF in one would end the line and start a header (or a request) of
// the caller's text's choosing. As aiohttp (and Python's http.client), these
// raise ValueError naming the bad part instead.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "corun/http/headers.hpp"

namespace corun::http::detail {

// method: an RFC 9110 token ("GET", "PROPFIND"). Headers: token names, values
// without CR, LF or NUL. Cookies: names without those, '=', ';' or spaces,
// values without CR, LF, NUL or ';'. Throws corun::ValueError.
void check_method(std::string_view method);
void check_headers(const Headers& headers);
void check_cookies(const std::vector<std::pair<std::string, std::string>>& cookies);

// What is wrong with a CA file to trust (ca_file, --cacert), or nullopt: "cannot
// read the CA file PATH: No such file or directory", "the CA file PATH holds no
// PEM certificate". libcurl
// would report either only when a TLS connection starts, as every request's
// error ("error setting certificate file"); the caller refuses it up front, as
// curl exits (77) and Python's ssl.create_default_context(cafile=) raises.
// error: the errno when the file cannot be read, 0 when its content is the problem.
struct CaFileProblem {
  int error = 0;
  std::string message;
};
std::optional<CaFileProblem> ca_file_problem(const std::filesystem::path& path);

}  // namespace corun::http::detail
