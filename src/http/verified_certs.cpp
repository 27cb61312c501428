// corun::http::detail::VerifiedCerts (see include/corun/http/detail/verified_certs.hpp).
#include "corun/http/detail/verified_certs.hpp"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <string_view>

namespace corun::http::detail {

namespace {

// Whether the verification OpenSSL is about to do is the chain alone: libcurl checks
// the host name itself after the handshake, so the parameters name no host, address
// or e-mail; if they ever did (another libcurl), or revocation lists were checked,
// every handshake is verified in full.
bool chain_only(X509_STORE_CTX* ctx) {
  const X509_VERIFY_PARAM* p = X509_STORE_CTX_get0_param(ctx);
  if (p == nullptr) return false;
  if (X509_VERIFY_PARAM_get0_host(const_cast<X509_VERIFY_PARAM*>(p), 0) != nullptr) return false;
  if (X509_VERIFY_PARAM_get0_email(const_cast<X509_VERIFY_PARAM*>(p)) != nullptr) return false;
  // With no address set this also queues an OpenSSL error ("passed a null
  // parameter"), which libcurl would report for a failed handshake: the caller
  // drops it (ERR_pop_to_mark).
  char* ip = X509_VERIFY_PARAM_get1_ip_asc(const_cast<X509_VERIFY_PARAM*>(p));
  if (ip != nullptr) {
    OPENSSL_free(ip);
    return false;
  }
  unsigned long crl = X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
  return (X509_VERIFY_PARAM_get_flags(p) & crl) == 0;
}

// The earliest notAfter of the verified chain, or `until` if it is earlier.
VerifiedCerts::Clock::time_point valid_until(X509_STORE_CTX* ctx,
                                             VerifiedCerts::Clock::time_point until) {
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx);
  int n = chain == nullptr ? 0 : sk_X509_num(chain);
  if (n == 0) return VerifiedCerts::Clock::time_point::min();  // nothing known: no entry
  for (int i = 0; i < n; ++i) {
    const ASN1_TIME* not_after = X509_get0_notAfter(sk_X509_value(chain, i));
    std::tm tm{};
    if (not_after == nullptr || ASN1_TIME_to_tm(not_after, &tm) != 1) {
      return VerifiedCerts::Clock::time_point::min();
    }
    auto t = VerifiedCerts::Clock::from_time_t(timegm(&tm));
    until = std::min(until, t);
  }
  return until;
}

// SHA-256 over the leaf and the certificates the server sent with it, in order:
// what a verification's outcome depends on besides the trust store. (Keyed by
// the leaf alone, a server sending the leaf without its intermediate passed
// once another had sent the whole chain: curl refuses it every time.)
bool chain_digest(X509_STORE_CTX* ctx, X509* leaf, VerifiedCerts::Digest& out) {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  if (md == nullptr) return false;
  bool ok = EVP_DigestInit_ex(md, EVP_sha256(), nullptr) == 1;
  auto add = [&](X509* cert) {
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    ok = ok && cert != nullptr && X509_digest(cert, EVP_sha256(), d, &n) == 1 &&
         EVP_DigestUpdate(md, d, n) == 1;
  };
  add(leaf);
  STACK_OF(X509)* sent = X509_STORE_CTX_get0_untrusted(ctx);
  int n = sent == nullptr ? 0 : sk_X509_num(sent);
  for (int i = 0; i < n; ++i) add(sk_X509_value(sent, i));
  unsigned int len = 0;
  ok = ok && EVP_DigestFinal_ex(md, out.data(), &len) == 1 && len == out.size();
  EVP_MD_CTX_free(md);
  return ok;
}

// SSL_CTX_set_cert_verify_callback's callback: replaces X509_verify_cert for the
// handshake, and calls it unless the leaf, with the same certificates sent
// along, is known.
int verify(X509_STORE_CTX* ctx, void* arg) {
  auto* self = static_cast<VerifiedCerts*>(arg);
  X509* leaf = X509_STORE_CTX_get0_cert(ctx);
  VerifiedCerts::Digest digest{};
  ERR_set_mark();  // what fails here only means "verify in full": not the handshake's error
  bool cacheable = leaf != nullptr && chain_only(ctx) && chain_digest(ctx, leaf, digest);
  ERR_pop_to_mark();
  auto now = VerifiedCerts::Clock::now();
  if (cacheable && self->known(digest, now)) {
    X509_STORE_CTX_set_error(ctx, X509_V_OK);
    return 1;
  }
  self->count_full();
  int ok = X509_verify_cert(ctx);
  if (ok == 1 && cacheable) {
    auto until = valid_until(ctx, now + self->ttl());
    if (until > now) self->remember(digest, until);
  }
  return ok;
}

CURLcode on_ssl_ctx(CURL* /*h*/, void* ssl_ctx, void* self) {
  SSL_CTX_set_cert_verify_callback(static_cast<SSL_CTX*>(ssl_ctx), &verify, self);
  return CURLE_OK;
}

}  // namespace

bool VerifiedCerts::available() noexcept {
  // Asked once per process, not per session.
  static const bool openssl = [] {
    const curl_version_info_data* v = curl_version_info(CURLVERSION_NOW);
    if (v == nullptr || v->ssl_version == nullptr) return false;
    // The first (or only) TLS library named: "OpenSSL/3.0.x", not "(OpenSSL/..." of
    // a MultiSSL build whose selected backend is another.
    return std::string_view(v->ssl_version).starts_with("OpenSSL/");
  }();
  return openssl;
}

bool VerifiedCerts::attach(CURL* h) noexcept {
  if (curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, &on_ssl_ctx) != CURLE_OK) return false;
  curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, this);
  return true;
}

bool VerifiedCerts::known(const Digest& d, Clock::time_point now) noexcept {
  auto it = entries_.find(d);
  if (it == entries_.end()) return false;
  if (it->second <= now) {
    entries_.erase(it);
    return false;
  }
  ++hits_;
  return true;
}

void VerifiedCerts::remember(const Digest& d, Clock::time_point until) {
  if (entries_.size() >= kMaxEntries && entries_.find(d) == entries_.end()) {
    auto now = Clock::now();
    std::erase_if(entries_, [now](const auto& e) { return e.second <= now; });
    if (entries_.size() >= kMaxEntries) entries_.clear();  // bounded: start again
  }
  entries_[d] = until;
}

}  // namespace corun::http::detail
