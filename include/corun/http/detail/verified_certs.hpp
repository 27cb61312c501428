// corun::http internals: the server certificates a session has already verified,
// so a new TLS connection that presents the same leaf certificate, with the same
// certificates sent along, skips verifying its chain again (as browsers keep their certificate
// verifier's results).
//
// A crawl opens many connections that present one certificate: every host of a
// site behind one multi-name or wildcard certificate, a host reconnected after its
// idle connection closed, the lanes' connections to one host. Verifying the chain
// parses the whole certificate's extensions again each time; with a certificate
// naming a thousand hosts that is most of a handshake's client CPU (bench/README.md,
// sitting 12).
//
// What is cached: "this leaf, sent with these certificates (SHA-256 over their
// DER), chained to a trusted CA under this session's trust settings", until the earliest notAfter
// of the chain verified or kDefaultTtl, whichever comes first. What is not: the host name check,
// which libcurl does after every handshake (CURLOPT_SSL_VERIFYHOST) whatever the chain's result;
// failures, which are verified again every time and report as before. A session
// owns one (its trust settings are fixed); it is used on the session's loop thread
// only. libcurl with OpenSSL only (CURLOPT_SSL_CTX_FUNCTION); elsewhere nothing changes.
#pragma once

#include <curl/curl.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <unordered_map>

namespace corun::http::detail {

class VerifiedCerts {
 public:
  using Clock = std::chrono::system_clock;
  static constexpr std::chrono::seconds kDefaultTtl{300};
  static constexpr std::size_t kMaxEntries = 4096;

  explicit VerifiedCerts(std::chrono::seconds ttl = kDefaultTtl) noexcept : ttl_(ttl) {}
  VerifiedCerts(const VerifiedCerts&) = delete;
  VerifiedCerts& operator=(const VerifiedCerts&) = delete;

  // Whether libcurl's TLS library is OpenSSL, the one whose SSL_CTX this can use.
  static bool available() noexcept;

  // Sets the cache on an easy handle for its next TLS handshakes
  // (CURLOPT_SSL_CTX_FUNCTION and _DATA); false if libcurl refused it.
  bool attach(CURL* h) noexcept;

  // Counts, for tests and benchmarks: chains verified in full, and handshakes whose
  // chain was found verified.
  std::size_t full_verifications() const noexcept { return full_; }
  std::size_t hits() const noexcept { return hits_; }
  std::size_t size() const noexcept { return entries_.size(); }

  // The steps of one verification (verified_certs.cpp's callback); public for it.
  using Digest = std::array<unsigned char, 32>;
  bool known(const Digest& d, Clock::time_point now) noexcept;
  void remember(const Digest& d, Clock::time_point until);
  void count_full() noexcept { ++full_; }
  std::chrono::seconds ttl() const noexcept { return ttl_; }

 private:
  struct DigestHash {
    std::size_t operator()(const Digest& d) const noexcept {
      std::size_t h;
      std::memcpy(&h, d.data(), sizeof h);  // a SHA-256: any bytes are uniform
      return h;
    }
  };
  std::chrono::seconds ttl_;
  std::unordered_map<Digest, Clock::time_point, DigestHash> entries_;
  std::size_t full_ = 0;
  std::size_t hits_ = 0;
};

}  // namespace corun::http::detail
