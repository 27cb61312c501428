// corun::http::detail::error_for (see include/corun/http/detail/curl_errors.hpp).
#include "corun/http/detail/curl_errors.hpp"

#include <fmt/format.h>

#include <string_view>

#include "corun/core/error.hpp"
#include "corun/http/errors.hpp"
#include "corun/http/url.hpp"

namespace corun::http::detail {

// The aiohttp-named error for a failed transfer; every message names the URL.
std::exception_ptr error_for(const TransferFailure& f, const std::string& given) {
  // Named without its credentials, as aiohttp's errors name it.
  const std::string url = without_userinfo(given);
  bool got_response = f.status != 0;
  auto msg = [&](std::string_view what) { return fmt::format("{} ({}): {}", what, url, f.detail); };
  switch (f.code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
      // Also what libcurl says of a reply with no status line ("Received HTTP/0.9
      // when not allowed") or another HTTP version: the server's fault, not the
      // URL's (the scheme was checked before the request).
      if (f.detail.find("HTTP/0.9") != std::string::npos ||
          f.detail.find("HTTP version") != std::string::npos) {
        return std::make_exception_ptr(
            ClientResponseError(msg("bad HTTP response"), url, 400, "Bad Response"));
      }
      [[fallthrough]];
    case CURLE_URL_MALFORMAT:
      return std::make_exception_ptr(InvalidURL(msg("invalid URL"), url));
    case CURLE_COULDNT_RESOLVE_HOST:
      return std::make_exception_ptr(ClientConnectorDNSError(msg("cannot resolve host"), url));
    case CURLE_COULDNT_RESOLVE_PROXY:
      return std::make_exception_ptr(ClientConnectorDNSError(msg("cannot resolve proxy"), url));
    case CURLE_COULDNT_CONNECT:
      return std::make_exception_ptr(ClientConnectorError(msg("cannot connect"), url));
    case CURLE_PEER_FAILED_VERIFICATION:
      return std::make_exception_ptr(
          ClientConnectorCertificateError(msg("TLS certificate verification failed"), url));
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
      return std::make_exception_ptr(ClientSSLError(msg("TLS error"), url));
    case CURLE_OPERATION_TIMEDOUT:
      // libcurl's words for the connect phase (corun's connect timeout, or the
      // total one running out there): aiohttp's ServerTimeoutError.
      // ("Failed to connect to H port P after N ms: Timeout was reached": a
      // connection that never completed its handshake, libcurl 7.88's words when
      // no SYN-ACK comes.)
      if (f.detail.starts_with("Connection timed out") ||
          f.detail.starts_with("Resolving timed out") ||
          f.detail.starts_with("Failed to connect to ")) {
        return std::make_exception_ptr(ServerTimeoutError(msg("timeout"), url));
      }
      return std::make_exception_ptr(TimeoutError(msg("timeout")));
    case CURLE_GOT_NOTHING:
      return std::make_exception_ptr(ServerDisconnectedError(msg("server disconnected"), url));
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      if (!got_response) {
        return std::make_exception_ptr(ServerDisconnectedError(msg("server disconnected"), url));
      }
      return std::make_exception_ptr(
          ClientPayloadError(msg("response payload is not completed"), url));
    case CURLE_PARTIAL_FILE:
    case CURLE_BAD_CONTENT_ENCODING:
      return std::make_exception_ptr(
          ClientPayloadError(msg("response payload is not completed"), url));
    case CURLE_WEIRD_SERVER_REPLY:
      return std::make_exception_ptr(
          ClientResponseError(msg("bad HTTP response"), url, 400, "Bad Response"));
    case CURLE_ABORTED_BY_CALLBACK:  // before_send threw (CURLOPT_PREREQFUNCTION)
      if (f.sink_error) return f.sink_error;
      return std::make_exception_ptr(ClientError(msg("request failed"), url));
    case CURLE_WRITE_ERROR:
      if (f.sink_error) return f.sink_error;
      if (f.too_big) {
        return std::make_exception_ptr(BodyTooLargeError(
            fmt::format("response body larger than max_body_size, {} bytes ({})", f.max_body, url),
            url, f.max_body, f.status));
      }
      return std::make_exception_ptr(ClientPayloadError(msg("write error"), url));
    case CURLE_OUT_OF_MEMORY:
      if (got_response) {
        // curl reports oversized response headers (> 100 KB) this way.
        return std::make_exception_ptr(ClientResponseError(
            fmt::format("bad HTTP response ({}): response headers too large ({})", url, f.detail),
            url, 400, "Bad Response"));
      }
      return std::make_exception_ptr(ClientError(msg("out of memory"), url));
    default:
      return std::make_exception_ptr(ClientError(msg("request failed"), url));
  }
}

}  // namespace corun::http::detail
