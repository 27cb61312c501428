// corun::http internals: a failed transfer's CURLcode mapped to the aiohttp-named
// error classes of errors.hpp (ClientConnectorError, ServerDisconnectedError,
// ClientPayloadError, ...; a timeout is corun::TimeoutError). Every message
// names the URL. A pure function; any thread.
#pragma once

#include <curl/curl.h>

#include <cstddef>
#include <exception>
#include <string>

namespace corun::http::detail {

// What is known about a failed transfer.
struct TransferFailure {
  CURLcode code = CURLE_OK;
  std::string detail;             // curl's error buffer, or curl_easy_strerror(code)
  int status = 0;                 // the status line's, once one had arrived (0: none)
  std::exception_ptr sink_error;  // what a body sink threw (CURLE_WRITE_ERROR)
  bool too_big = false;           // the body passed max_body (CURLE_WRITE_ERROR)
  std::size_t max_body = 0;
};

std::exception_ptr error_for(const TransferFailure& f, const std::string& url);

}  // namespace corun::http::detail
