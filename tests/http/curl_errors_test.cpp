// detail::error_for: each CURLcode class maps to its aiohttp-named error, and
// every message names the URL.
#include "corun/http/detail/curl_errors.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "corun/core/error.hpp"
#include "corun/http/errors.hpp"

namespace {

using corun::http::detail::error_for;
using corun::http::detail::TransferFailure;
namespace http = corun::http;

const std::string kUrl = "http://example.test/page";

TransferFailure failure(CURLcode code, bool got_response = false) {
  TransferFailure f;
  f.code = code;
  f.detail = "curl says why";
  f.status = got_response ? 200 : 0;
  return f;
}

// Rethrows the mapped error and returns what() if it is an E.
template <class E>
std::string as(const TransferFailure& f) {
  try {
    std::rethrow_exception(error_for(f, kUrl));
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "CURLcode " << f.code << " gave another error: " << e.what();
  }
  return {};
}

TEST(CurlErrorsTest, EachCodeMapsToItsErrorClassNamingTheUrl) {
  struct Row {
    CURLcode code;
    bool got_response;
    std::string (*check)(const TransferFailure&);
    const char* words;
  };
  const Row rows[] = {
      {CURLE_URL_MALFORMAT, false, &as<http::InvalidURL>, "invalid URL"},
      {CURLE_UNSUPPORTED_PROTOCOL, false, &as<http::InvalidURL>, "invalid URL"},
      {CURLE_COULDNT_RESOLVE_HOST, false, &as<http::ClientConnectorDNSError>,
       "cannot resolve host"},
      {CURLE_COULDNT_RESOLVE_PROXY, false, &as<http::ClientConnectorDNSError>,
       "cannot resolve proxy"},
      {CURLE_COULDNT_CONNECT, false, &as<http::ClientConnectorError>, "cannot connect"},
      {CURLE_PEER_FAILED_VERIFICATION, false, &as<http::ClientConnectorCertificateError>,
       "certificate"},
      {CURLE_SSL_CONNECT_ERROR, false, &as<http::ClientSSLError>, "TLS error"},
      {CURLE_OPERATION_TIMEDOUT, false, &as<corun::TimeoutError>, "timeout"},
      {CURLE_GOT_NOTHING, false, &as<http::ServerDisconnectedError>, "server disconnected"},
      {CURLE_RECV_ERROR, false, &as<http::ServerDisconnectedError>, "server disconnected"},
      {CURLE_RECV_ERROR, true, &as<http::ClientPayloadError>, "payload is not completed"},
      {CURLE_HTTP2_STREAM, true, &as<http::ClientPayloadError>, "payload is not completed"},
      {CURLE_PARTIAL_FILE, true, &as<http::ClientPayloadError>, "payload is not completed"},
      {CURLE_BAD_CONTENT_ENCODING, true, &as<http::ClientPayloadError>, "not completed"},
      {CURLE_WEIRD_SERVER_REPLY, false, &as<http::ClientResponseError>, "bad HTTP response"},
      {CURLE_OUT_OF_MEMORY, true, &as<http::ClientResponseError>, "headers too large"},
      {CURLE_OUT_OF_MEMORY, false, &as<http::ClientError>, "out of memory"},
      {CURLE_WRITE_ERROR, true, &as<http::ClientPayloadError>, "write error"},
      {CURLE_SEND_FAIL_REWIND, false, &as<http::ClientError>, "request failed"},
  };
  for (const Row& row : rows) {
    std::string what = row.check(failure(row.code, row.got_response));
    EXPECT_NE(what.find(row.words), std::string::npos) << row.code << ": " << what;
    EXPECT_NE(what.find(kUrl), std::string::npos) << row.code << ": " << what;
    EXPECT_NE(what.find("curl says why"), std::string::npos) << row.code << ": " << what;
  }
}

TEST(CurlErrorsTest, APlainTimeoutIsNotAClientError) {
  try {
    std::rethrow_exception(error_for(failure(CURLE_OPERATION_TIMEDOUT), kUrl));
  } catch (const http::ClientError&) {
    ADD_FAILURE() << "a timeout is corun::TimeoutError, as in aiohttp (asyncio.TimeoutError)";
  } catch (const corun::TimeoutError&) {
  }
}

TEST(CurlErrorsTest, AWriteErrorIsWhatTheSinkThrewOrTheBodyLimit) {
  TransferFailure sink = failure(CURLE_WRITE_ERROR, true);
  sink.sink_error = std::make_exception_ptr(std::runtime_error("disk full"));
  try {
    std::rethrow_exception(error_for(sink, kUrl));
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "disk full");
  }

  TransferFailure big = failure(CURLE_WRITE_ERROR, true);
  big.too_big = true;
  big.max_body = 1000;
  try {
    std::rethrow_exception(error_for(big, kUrl));
  } catch (const http::BodyTooLargeError& e) {
    EXPECT_EQ(e.limit(), 1000U);
    EXPECT_NE(std::string(e.what()).find("1000 bytes"), std::string::npos) << e.what();
    EXPECT_EQ(e.url(), kUrl);
  }
}

// CURLE_ABORTED_BY_CALLBACK: before_send threw (curl's pre-request callback),
// and the request rethrows what it threw; without one, a plain ClientError.
TEST(CurlErrorsTest, AnAbortBeforeSendIsWhatTheHookThrew) {
  TransferFailure hook = failure(CURLE_ABORTED_BY_CALLBACK, false);
  hook.sink_error = std::make_exception_ptr(std::runtime_error("lease lapsed"));
  std::string what;
  try {
    std::rethrow_exception(error_for(hook, kUrl));
  } catch (const std::runtime_error& e) {
    what = e.what();
  }
  EXPECT_EQ(what, "lease lapsed");
  std::string url;
  try {
    std::rethrow_exception(error_for(failure(CURLE_ABORTED_BY_CALLBACK, false), kUrl));
  } catch (const http::ClientError& e) {
    url = e.url();
  }
  EXPECT_EQ(url, kUrl);
}

// An error names its URL without the credentials in it (as aiohttp's errors).
TEST(CurlErrorsTest, TheUrlIsNamedWithoutItsCredentials) {
  TransferFailure f = failure(CURLE_COULDNT_CONNECT);
  try {
    std::rethrow_exception(error_for(f, "http://alice:s3cret@127.0.0.1:1/x"));
  } catch (const http::ClientError& e) {
    EXPECT_EQ(e.url(), "http://127.0.0.1:1/x");
    EXPECT_EQ(std::string(e.what()).find("s3cret"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("(http://127.0.0.1:1/x)"), std::string::npos) << e.what();
  }
}

// libcurl's own words tell two codes apart: a timeout while connecting is
// aiohttp's ServerTimeoutError (later ones stay a plain TimeoutError), and an
// "unsupported protocol" for a reply without a status line is the server's fault.
TEST(CurlErrorsTest, TheDetailTellsAConnectTimeoutAndANonHttpReplyApart) {
  TransferFailure connect = failure(CURLE_OPERATION_TIMEDOUT);
  connect.detail = "Connection timed out after 1001 milliseconds";
  EXPECT_NE(as<http::ServerTimeoutError>(connect).find(kUrl), std::string::npos);
  TransferFailure resolve = failure(CURLE_OPERATION_TIMEDOUT);
  resolve.detail = "Resolving timed out after 1001 milliseconds";
  EXPECT_NE(as<http::ServerTimeoutError>(resolve).find("timeout"), std::string::npos);
  TransferFailure syn = failure(CURLE_OPERATION_TIMEDOUT);
  syn.detail = "Failed to connect to 127.0.0.1 port 58943 after 501 ms: Timeout was reached";
  EXPECT_NE(as<http::ServerTimeoutError>(syn).find(kUrl), std::string::npos);
  TransferFailure total = failure(CURLE_OPERATION_TIMEDOUT);
  total.detail = "Operation timed out after 300 milliseconds with 2 out of 100 bytes received";
  try {
    std::rethrow_exception(error_for(total, kUrl));
  } catch (const http::ServerTimeoutError& e) {
    ADD_FAILURE() << "a transfer's timeout is a plain TimeoutError: " << e.what();
  } catch (const corun::TimeoutError& e) {
    EXPECT_NE(std::string(e.what()).find(kUrl), std::string::npos);
  }
  TransferFailure http09 = failure(CURLE_UNSUPPORTED_PROTOCOL);
  http09.detail = "Received HTTP/0.9 when not allowed";
  EXPECT_NE(as<http::ClientResponseError>(http09).find("bad HTTP response"), std::string::npos);
}

}  // namespace
