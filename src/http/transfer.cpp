// corun::http::detail::Transfer (see include/corun/http/detail/transfer.hpp).
#include "corun/http/detail/transfer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <system_error>

#include "corun/core/error.hpp"
#include "corun/http/errors.hpp"
#include "corun/text/ascii.hpp"

namespace corun::http::detail {

namespace {

using RB = ResponseBuilder;
// The most a Content-Length may make the body buffer reserve up front.
constexpr std::size_t kMaxReserve = std::size_t{64} << 20;

}  // namespace

std::string_view standard_reason(int status) noexcept {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 203:
      return "Non-Authoritative Information";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 410:
      return "Gone";
    case 413:
      return "Request Entity Too Large";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "";
  }
}

bool is_redirect(int status) noexcept {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

Transfer::Transfer(TransferList& list, CurlMulti& multi, Response& resp)
    : list_(list), multi_(multi), resp_(resp) {
  next_ = list.head;
  if (next_ != nullptr) next_->prev_ = this;
  list.head = this;
}

Transfer::~Transfer() {
  read_timer_.cancel();
  if (easy != nullptr) multi_.release(easy);
  if (prev_ != nullptr) {
    prev_->next_ = next_;
  } else {
    list_.head = next_;
  }
  if (next_ != nullptr) next_->prev_ = prev_;
  if (file_ != nullptr) std::fclose(file_);
}

void Transfer::finish_file() {
  if (file_ == nullptr) return;
  int rc = std::fclose(file_);
  file_ = nullptr;
  if (rc != 0) {
    throw std::system_error(errno, std::generic_category(), "cannot write " + save_to->string());
  }
}

void Transfer::stop(std::exception_ptr why) noexcept {
  if (easy != nullptr) {
    multi_.release(easy);
    easy = nullptr;
  }
  if (done && !done->done()) {
    try {
      done->set_exception(std::move(why));
    } catch (...) {  // the loop is closing: the task is being torn down anyway
    }
  }
}

void Transfer::watch_reads(Loop& loop, std::chrono::milliseconds sock_read) {
  read_loop_ = &loop;
  sock_read_ = sock_read;
  started_ = last_read_ = std::chrono::steady_clock::now();
  read_timer_ = loop.call_later(sock_read, [this] { check_reads(); });
}

void Transfer::check_reads() {
  if (easy == nullptr || !done || done->done()) return;
  auto now = std::chrono::steady_clock::now();
  // Until the request is ready to go (connected, TLS done: libcurl's
  // pretransfer time, 0 before), the connect timeout is the one that counts.
  curl_off_t ready_us = 0;
  curl_easy_getinfo(easy, CURLINFO_PRETRANSFER_TIME_T, &ready_us);
  auto since =
      ready_us > 0 ? std::max(last_read_, started_ + std::chrono::microseconds(ready_us)) : now;
  if (ready_us > 0 && now - since >= sock_read_) {
    stop(std::make_exception_ptr(ServerTimeoutError(
        fmt::format("timeout ({}): nothing received for {:.3g} s (sock_read)", resp_.url(),
                    std::chrono::duration<double>(sock_read_).count()),
        resp_.url())));
    return;
  }
  read_timer_ = read_loop_->call_later(since + sock_read_ - now, [this] { check_reads(); });
}

TransferFailure Transfer::failure() const {
  TransferFailure f;
  f.code = result;
  f.detail = storage.errbuf[0] != '\0' ? std::string(storage.errbuf)
                                       : std::string(curl_easy_strerror(result));
  f.status = resp_.status();
  f.sink_error = callback_error_;
  f.too_big = too_big_;
  f.max_body = max_body;
  return f;
}

void Transfer::on_header_line(std::string_view line) {
  if (read_loop_ != nullptr) last_read_ = std::chrono::steady_clock::now();
  if (line.size() >= 5 && line.compare(0, 5, "HTTP/") == 0) {
    // A new status line: an interim (1xx) or proxy block before it is dropped.
    RB::headers(resp_).clear();
    auto sp = line.find(' ');
    int status = 0;
    std::string_view reason;
    if (sp != std::string_view::npos) {
      std::string_view rest = line.substr(sp + 1);
      std::size_t i = 0;
      while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') {
        status = status * 10 + (rest[i] - '0');
        ++i;
      }
      reason = text::trim_http_whitespace(rest.substr(i));
    }
    RB::status(resp_) = status;
    RB::reason(resp_) = reason.empty() ? std::string(standard_reason(status)) : std::string(reason);
    return;
  }
  RB::headers(resp_).add_raw_line(line);
}

// The first piece of a body: is it the user's (not a redirect's we follow), and
// how much may the buffer reserve.
void Transfer::start_body() {
  body_started_ = true;
  discard_body_ =
      allow_redirects && is_redirect(resp_.status()) && resp_.headers().contains("Location");
  if (discard_body_) return;
  auto cl = resp_.headers().get("Content-Length");
  if (!cl) return;
  std::size_t n = 0;
  for (char c : *cl) {
    if (c < '0' || c > '9') break;
    if (n > (std::numeric_limits<std::size_t>::max() - 9) / 10) {  // past any size
      n = std::numeric_limits<std::size_t>::max();
      break;
    }
    n = n * 10 + static_cast<std::size_t>(c - '0');
  }
  // A body announced larger than max_body fails now, as curl's
  // --max-filesize, not after it has come in up to the limit (or stalled on
  // the way). Not a compressed one: its length is not the decoded body's.
  auto coding = resp_.headers().get("Content-Encoding");
  if (n > max_body && (!coding || text::iequals(*coding, "identity"))) {
    too_big_ = true;
    return;
  }
  if (on_chunk != nullptr || save_to != nullptr || n > max_body) return;
  RB::body(resp_).reserve(std::min(n, kMaxReserve));
}

bool Transfer::on_body(std::string_view chunk) {
  if (read_loop_ != nullptr) last_read_ = std::chrono::steady_clock::now();
  if (!body_started_) start_body();
  if (discard_body_) return true;
  if (too_big_) return false;
  std::size_t& size = RB::body_size(resp_);
  size += chunk.size();
  if (size > max_body) {
    too_big_ = true;
    return false;
  }
  if (on_chunk != nullptr) return to_callback(chunk);
  if (save_to != nullptr) return to_file(chunk);
  return to_memory(chunk);
}

bool Transfer::on_before_send() {
  if (before_send == nullptr) return true;
  try {
    (*before_send)();
  } catch (...) {
    callback_error_ = std::current_exception();
    return false;
  }
  return true;
}

bool Transfer::to_callback(std::string_view chunk) {
  try {
    (*on_chunk)(chunk);
  } catch (...) {
    callback_error_ = std::current_exception();
    return false;
  }
  return true;
}

// The file is created when the first byte of the final response arrives.
bool Transfer::to_file(std::string_view chunk) {
  if (file_ == nullptr) {
    file_ = std::fopen(save_to->c_str(), "wb");
    if (file_ == nullptr) {
      callback_error_ = std::make_exception_ptr(
          std::system_error(errno, std::generic_category(), "cannot open " + save_to->string()));
      return false;
    }
  }
  if (std::fwrite(chunk.data(), 1, chunk.size(), file_) != chunk.size()) {
    callback_error_ = std::make_exception_ptr(
        std::system_error(errno, std::generic_category(), "cannot write " + save_to->string()));
    return false;
  }
  return true;
}

bool Transfer::to_memory(std::string_view chunk) {
  RB::body(resp_).append(chunk);
  return true;
}

void Transfer::on_done(CURLcode r) {
  result = r;
  if (!done->done()) done->set_result();
}

}  // namespace corun::http::detail
