// Certificate verification on throw-away copies (see
// include/corun/http/detail/tls_verify.hpp).
#include "corun/http/detail/tls_verify.hpp"

#include <openssl/opensslv.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <memory>
#include <string_view>

namespace corun::http::detail {

namespace {

struct StackFree {
  void operator()(STACK_OF(X509) * s) const noexcept { sk_X509_pop_free(s, X509_free); }
};
struct CtxFree {
  void operator()(X509_STORE_CTX* c) const noexcept { X509_STORE_CTX_free(c); }
};
using CertStack = std::unique_ptr<STACK_OF(X509), StackFree>;

// The connection's certificate for `cert` when it is one of the copies (same
// index), else `cert` itself (one of the store's). Not up-referenced.
X509* original_of(X509* cert, STACK_OF(X509) * copies, STACK_OF(X509) * originals) {
  for (int i = 0; i < sk_X509_num(copies); ++i) {
    if (sk_X509_value(copies, i) == cert) return sk_X509_value(originals, i);
  }
  return cert;
}

}  // namespace

// Called by OpenSSL in place of X509_verify_cert(ctx) on a context it set up
// for the peer's chain.
int verify_on_copies(X509_STORE_CTX* ctx, void* /*arg*/) {
  X509* leaf = X509_STORE_CTX_get0_cert(ctx);
  STACK_OF(X509)* untrusted = X509_STORE_CTX_get0_untrusted(ctx);
  // originals[i] <-> copies[i]: the leaf first, then the peer's other certificates.
  CertStack originals(sk_X509_new_null());
  CertStack copies(sk_X509_new_null());
  std::unique_ptr<X509_STORE_CTX, CtxFree> check(X509_STORE_CTX_new());
  if (!originals || !copies || !check || leaf == nullptr) {
    X509_STORE_CTX_set_error(ctx, X509_V_ERR_OUT_OF_MEM);
    return -1;
  }
  auto add = [&](X509* cert) {
    X509* copy = X509_dup(cert);
    if (copy == nullptr) return false;
    if (sk_X509_push(copies.get(), copy) <= 0) {
      X509_free(copy);
      return false;
    }
    X509_up_ref(cert);
    if (sk_X509_push(originals.get(), cert) <= 0) {
      X509_free(cert);
      return false;
    }
    return true;
  };
  bool copied = add(leaf);
  for (int i = 0; copied && i < sk_X509_num(untrusted); ++i)
    copied = add(sk_X509_value(untrusted, i));
  if (!copied) {
    X509_STORE_CTX_set_error(ctx, X509_V_ERR_OUT_OF_MEM);
    return -1;
  }
  // The copies' untrusted list: all but the leaf, as in ctx.
  CertStack chain_in(sk_X509_new_null());
  if (!chain_in) {
    X509_STORE_CTX_set_error(ctx, X509_V_ERR_OUT_OF_MEM);
    return -1;
  }
  for (int i = 1; i < sk_X509_num(copies.get()); ++i) {
    X509* c = sk_X509_value(copies.get(), i);
    X509_up_ref(c);
    if (sk_X509_push(chain_in.get(), c) <= 0) {
      X509_free(c);
      X509_STORE_CTX_set_error(ctx, X509_V_ERR_OUT_OF_MEM);
      return -1;
    }
  }
  X509* leaf_copy = sk_X509_value(copies.get(), 0);
  if (X509_STORE_CTX_init(check.get(), X509_STORE_CTX_get0_store(ctx), leaf_copy, chain_in.get()) !=
      1) {
    X509_STORE_CTX_set_error(ctx, X509_V_ERR_OUT_OF_MEM);
    return -1;
  }
  // What OpenSSL set up on ctx for this connection (purpose, trust, depth, flags,
  // security level, names), its callback, and the SSL the callback may look up.
  X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(check.get()), X509_STORE_CTX_get0_param(ctx));
  X509_STORE_CTX_set_verify_cb(check.get(), X509_STORE_CTX_get_verify_cb(ctx));
  int ssl_idx = SSL_get_ex_data_X509_STORE_CTX_idx();
  X509_STORE_CTX_set_ex_data(check.get(), ssl_idx, X509_STORE_CTX_get_ex_data(ctx, ssl_idx));

  int ok = X509_verify_cert(check.get());

  X509_STORE_CTX_set_error(ctx, X509_STORE_CTX_get_error(check.get()));
  X509_STORE_CTX_set_error_depth(ctx, X509_STORE_CTX_get_error_depth(check.get()));
  if (X509* current = X509_STORE_CTX_get_current_cert(check.get())) {
    X509_STORE_CTX_set_current_cert(ctx, original_of(current, copies.get(), originals.get()));
  }
  if (STACK_OF(X509)* built = X509_STORE_CTX_get0_chain(check.get())) {
    CertStack verified(sk_X509_new_null());
    bool mapped = verified != nullptr;
    for (int i = 0; mapped && i < sk_X509_num(built); ++i) {
      X509* c = original_of(sk_X509_value(built, i), copies.get(), originals.get());
      X509_up_ref(c);
      if (sk_X509_push(verified.get(), c) <= 0) {
        X509_free(c);
        mapped = false;
      }
    }
    if (!mapped) {
      X509_STORE_CTX_set_error(ctx, X509_V_ERR_OUT_OF_MEM);
      return -1;
    }
    X509_STORE_CTX_set0_verified_chain(ctx, verified.release());
  }
  X509_VERIFY_PARAM_move_peername(X509_STORE_CTX_get0_param(ctx),
                                  X509_STORE_CTX_get0_param(check.get()));
  return ok;
}

bool lean_verify_available() noexcept {
  static const bool available = [] {
    const curl_version_info_data* v = curl_version_info(CURLVERSION_NOW);
    if (v == nullptr || v->ssl_version == nullptr) return false;
    // "OpenSSL/3.0.19": the same major version as the headers we use.
    std::string_view ssl(v->ssl_version);
    std::string_view want = "OpenSSL/" OPENSSL_VERSION_STR;
    auto major = [](std::string_view s) { return s.substr(0, s.find('.')); };
    return major(ssl) == major(want);
  }();
  return available;
}

CURLcode install_lean_verify(CURL* /*easy*/, void* ssl_ctx, void* /*userp*/) noexcept {
  SSL_CTX_set_cert_verify_callback(static_cast<SSL_CTX*>(ssl_ctx), &verify_on_copies, nullptr);
  return CURLE_OK;
}

}  // namespace corun::http::detail
