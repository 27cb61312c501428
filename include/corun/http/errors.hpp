// corun::http errors, named and arranged as aiohttp's client exceptions so a
// reader of Python code finds the twin at once:
//
//   corun::Error
//   ├── TimeoutError (core)
//   │   └── ServerTimeoutError                connect or sock_read timeout
//   └── ClientError
//       ├── ClientConnectionError
//       │   ├── ClientConnectorError          cannot connect (refused, DNS, TLS)
//       │   │   ├── ClientConnectorDNSError   the host (or proxy) name does not resolve
//       │   │   └── ClientSSLError
//       │   │       └── ClientConnectorCertificateError   verification failed
//       │   └── ServerDisconnectedError       closed before a response arrived
//       ├── ClientResponseError               status(), reason(), url()
//       │   ├── TooManyRedirects              history(): the redirects followed
//       │   └── ContentTypeError              json() on a non-JSON response
//       ├── ClientPayloadError                truncated / malformed body
//       └── InvalidURL                        malformed URL or unsupported scheme
//
// Timeouts raise corun::TimeoutError (as aiohttp's raise asyncio.TimeoutError); a
// connect or sock_read timeout is its subclass ServerTimeoutError (aiohttp's
// ServerTimeoutError, which Python's binding makes a ClientError too). Using a
// closed session raises corun::RuntimeError. Every message names the URL.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "corun/core/error.hpp"

namespace corun::http {

class ClientError : public Error {
 public:
  ClientError(std::string message, std::string url)
      : Error(std::move(message)), url_(std::move(url)) {}
  // The URL of the request that failed.
  const std::string& url() const noexcept { return url_; }

 private:
  std::string url_;
};

// No byte for sock_read, or no connection within the connect timeout. The total
// timeout is a plain TimeoutError, as aiohttp's.
class ServerTimeoutError : public TimeoutError {
 public:
  ServerTimeoutError(std::string message, std::string url)
      : TimeoutError(std::move(message)), url_(std::move(url)) {}
  const std::string& url() const noexcept { return url_; }

 private:
  std::string url_;
};

class ClientConnectionError : public ClientError {
 public:
  using ClientError::ClientError;
};

class ClientConnectorError : public ClientConnectionError {
 public:
  using ClientConnectionError::ClientConnectionError;
};

// aiohttp >= 3.10's name. corun fetch does not retry it (as curl --retry does not):
// libcurl cannot tell a name that does not exist from a resolver that failed.
class ClientConnectorDNSError : public ClientConnectorError {
 public:
  using ClientConnectorError::ClientConnectorError;
};

class ClientSSLError : public ClientConnectorError {
 public:
  using ClientConnectorError::ClientConnectorError;
};

class ClientConnectorCertificateError : public ClientSSLError {
 public:
  using ClientSSLError::ClientSSLError;
};

class ServerDisconnectedError : public ClientConnectionError {
 public:
  using ClientConnectionError::ClientConnectionError;
};

class ClientResponseError : public ClientError {
 public:
  ClientResponseError(std::string message, std::string url, int status, std::string reason)
      : ClientError(std::move(message), std::move(url)),
        status_(status),
        reason_(std::move(reason)) {}
  int status() const noexcept { return status_; }
  const std::string& reason() const noexcept { return reason_; }

 private:
  int status_;
  std::string reason_;
};

class Response;

class TooManyRedirects : public ClientResponseError {
 public:
  using ClientResponseError::ClientResponseError;
  TooManyRedirects(std::string message, std::string url, int status, std::string reason,
                   std::shared_ptr<const std::vector<Response>> history)
      : ClientResponseError(std::move(message), std::move(url), status, std::move(reason)),
        history_(std::move(history)) {}
  // The redirect responses, oldest first, the last one (not followed) included,
  // as aiohttp's TooManyRedirects.history; empty when not known. Defined in
  // response.cpp, where Response is complete.
  const std::vector<Response>& history() const noexcept;

 private:
  std::shared_ptr<const std::vector<Response>> history_;
};

class ContentTypeError : public ClientResponseError {
 public:
  using ClientResponseError::ClientResponseError;
};

class ClientPayloadError : public ClientError {
 public:
  using ClientError::ClientError;
};

// The body grew past max_body_size (session or request option); the transfer was
// stopped there. A ClientPayloadError, as aiohttp reports a body it will not take.
class BodyTooLargeError : public ClientPayloadError {
 public:
  BodyTooLargeError(std::string message, std::string url, std::size_t limit, int status = 0)
      : ClientPayloadError(std::move(message), std::move(url)), limit_(limit), status_(status) {}
  std::size_t limit() const noexcept { return limit_; }
  // The response's status (its headers had come: 200, ...); 0 if unknown.
  int status() const noexcept { return status_; }

 private:
  std::size_t limit_;
  int status_;
};

class InvalidURL : public ClientError {
 public:
  using ClientError::ClientError;
};

}  // namespace corun::http
