// corun::http internals: certificate verification that keeps no parsed
// extensions on a connection's certificates.
//
// OpenSSL caches the parsed extensions of every certificate it checks (the whole
// subjectAltName list among them) on the certificate object, and a connection
// keeps its peer's certificates for as long as it is open. With many hosts kept
// alive this is most of a connection's memory when certificates name many
// hosts (a CDN's or the crawl bench's: 1,000 names, about 100 KB per
// connection). The verification below runs OpenSSL's own X509_verify_cert with
// the same store, parameters and callback, on copies of the peer's
// certificates that are freed at once; its outcome (result, error depth,
// current certificate, verified chain in terms of the connection's own
// certificates) is handed back as X509_verify_cert would have left it.
#pragma once

#include <curl/curl.h>

// OpenSSL's X509_STORE_CTX, without OpenSSL's headers.
struct x509_store_ctx_st;

namespace corun::http::detail {

// True when libcurl's TLS backend is the OpenSSL this library was built
// against (so an SSL_CTX it hands over is ours to configure).
bool lean_verify_available() noexcept;

// A CURLOPT_SSL_CTX_FUNCTION: installs the verification above on the
// connection's SSL_CTX. Use only when lean_verify_available().
CURLcode install_lean_verify(CURL* easy, void* ssl_ctx, void* userp) noexcept;

// The verification itself, an SSL_CTX_set_cert_verify_callback: what
// X509_verify_cert(ctx) returns, with ctx left as it would leave it (error,
// error depth, current certificate, chain), while ctx's certificates keep no
// parsed extensions.
int verify_on_copies(x509_store_ctx_st* ctx, void* arg);

}  // namespace corun::http::detail
