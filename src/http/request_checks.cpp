// The request's own strings, checked before they go on the wire (see the header).
#include "corun/http/detail/request_checks.hpp"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>

#include "corun/core/error.hpp"

namespace corun::http::detail {

namespace {

// RFC 9110's tchar.
bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_token_char(c)) return false;
  }
  return true;
}

// What would end the line: CR, LF, and NUL (which libcurl's C strings stop at).
bool breaks_line(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

}  // namespace

void check_method(std::string_view method) {
  if (!is_token(method)) {
    throw ValueError(
        fmt::format("invalid HTTP method {:?}: a method is a token (letters, digits "
                    "and !#$%&'*+-.^_`|~), e.g. GET or PROPFIND",
                    method));
  }
}

void check_headers(const Headers& headers) {
  for (auto f : headers) {
    if (!is_token(f.name)) {
      throw ValueError(
          fmt::format("invalid header name {:?}: a name is a token (letters, digits "
                      "and !#$%&'*+-.^_`|~), no spaces, colons or line breaks",
                      f.name));
    }
    if (breaks_line(f.value)) {
      throw ValueError(fmt::format(
          "invalid value for header {}: {:?} holds a CR, LF or NUL character", f.name, f.value));
    }
  }
}

void check_cookies(const std::vector<std::pair<std::string, std::string>>& cookies) {
  for (const auto& [name, value] : cookies) {
    if (name.empty() || breaks_line(name) || name.find_first_of("=; \t,") != std::string::npos) {
      throw ValueError(fmt::format("invalid cookie name {:?}", name));
    }
    if (breaks_line(value) || value.find(';') != std::string::npos) {
      throw ValueError(fmt::format(
          "invalid value for cookie {}: {:?} holds a CR, LF, NUL or ';' character", name, value));
    }
  }
}

std::optional<CaFileProblem> ca_file_problem(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return CaFileProblem{EISDIR, fmt::format("cannot read the CA file {}: {}", path.string(),
                                             std::strerror(EISDIR))};
  }
  errno = 0;
  BIO* bio = BIO_new_file(path.c_str(), "r");
  if (bio == nullptr) {
    int err = errno != 0 ? errno : ENOENT;
    ERR_clear_error();
    return CaFileProblem{
        err, fmt::format("cannot read the CA file {}: {}", path.string(), std::strerror(err))};
  }
  // What libcurl's OpenSSL reads from it (X509_load_cert_crl_file): the PEM blocks,
  // of which at least one must be a certificate or a revocation list.
  STACK_OF(X509_INFO)* infos = PEM_X509_INFO_read_bio(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (infos == nullptr) {  // a block that does not parse: libcurl would refuse the file too
    const char* why = ERR_reason_error_string(ERR_peek_last_error());
    ERR_clear_error();
    return CaFileProblem{0, fmt::format("the CA file {} is not a file of PEM certificates ({})",
                                        path.string(), why != nullptr ? why : "unreadable")};
  }
  int usable = 0;
  {
    for (int i = 0; i < sk_X509_INFO_num(infos); ++i) {
      const X509_INFO* info = sk_X509_INFO_value(infos, i);
      if (info->x509 != nullptr || info->crl != nullptr) ++usable;
    }
    sk_X509_INFO_pop_free(infos, X509_INFO_free);
  }
  // Not left for the next OpenSSL call on this thread to report as its own.
  ERR_clear_error();
  if (usable == 0) {
    return CaFileProblem{0, fmt::format("the CA file {} holds no PEM certificate", path.string())};
  }
  return std::nullopt;
}

}  // namespace corun::http::detail
