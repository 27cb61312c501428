// detail::verify_on_copies (the TLS verification corun::http installs on
// libcurl's SSL_CTX): the same outcome as X509_verify_cert, and no parsed
// extensions left on the certificates it checked. OpenSSL's allocations are
// counted through CRYPTO_set_mem_functions, installed before OpenSSL allocates.
#include "corun/http/detail/tls_verify.hpp"

#include <gtest/gtest.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "support/nginx_fixture.hpp"

namespace {

namespace fs = std::filesystem;
using corun::http::detail::verify_on_copies;

std::atomic<long> live_allocations{0};

void* counting_malloc(std::size_t n, const char* /*file*/, int /*line*/) {
  void* p = std::malloc(n);
  if (p != nullptr) live_allocations.fetch_add(1, std::memory_order_relaxed);
  return p;
}
void counting_free(void* p, const char* /*file*/, int /*line*/) {
  if (p != nullptr) live_allocations.fetch_sub(1, std::memory_order_relaxed);
  std::free(p);
}
void* counting_realloc(void* p, std::size_t n, const char* file, int line) {
  if (p == nullptr) return counting_malloc(n, file, line);
  if (n == 0) {
    counting_free(p, file, line);
    return nullptr;
  }
  return std::realloc(p, n);
}
// Before main, so before OpenSSL's first allocation; checked by the test that needs it.
const bool counting_installed =
    CRYPTO_set_mem_functions(&counting_malloc, &counting_realloc, &counting_free) == 1;

constexpr int kNames = 300;  // subjectAltName entries of the leaf

// root CA -> intermediate CA -> leaf (kNames IP addresses); another root besides.
struct Pki {
  corun::testing::TempDir dir{"corun-tls-verify"};
  fs::path root, other_root, intermediate, leaf, client_leaf;

  Pki() {
    const std::string d = dir.path().string();
    std::string san = "subjectAltName=DNS:localhost";
    for (int i = 0; i < kNames; ++i)
      san += ",IP:127.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
    corun::testing::write_text_file(
        dir.path() / "leaf.ext",
        san + "\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
    corun::testing::write_text_file(dir.path() / "client.ext",
                                    "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n");
    corun::testing::write_text_file(
        dir.path() / "ca.ext",
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n");
    std::string script =
        "set -e; cd '" + d +
        "';"
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=root -keyout root.key -out "
        "root.pem;"
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other -keyout other.key -out "
        "other.pem;"
        "openssl req -newkey rsa:2048 -nodes -subj /CN=intermediate -keyout int.key -out int.csr;"
        "openssl x509 -req -in int.csr -CA root.pem -CAkey root.key -CAcreateserial -days 2 "
        "-extfile ca.ext -out int.pem;"
        "openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout leaf.key -out leaf.csr;"
        "openssl x509 -req -in leaf.csr -CA int.pem -CAkey int.key -CAcreateserial -days 2 "
        "-extfile leaf.ext -out leaf.pem;"
        "openssl x509 -req -in leaf.csr -CA int.pem -CAkey int.key -CAcreateserial -days 2 "
        "-extfile client.ext -out client.pem";
    if (std::system(("(" + script + ") >/dev/null 2>&1").c_str()) != 0) {
      throw std::runtime_error("openssl could not make the test certificates in " + d);
    }
    root = dir.path() / "root.pem";
    other_root = dir.path() / "other.pem";
    intermediate = dir.path() / "int.pem";
    leaf = dir.path() / "leaf.pem";
    client_leaf = dir.path() / "client.pem";
  }
};

struct X509Free {
  void operator()(X509* x) const noexcept { X509_free(x); }
};
struct StoreFree {
  void operator()(X509_STORE* s) const noexcept { X509_STORE_free(s); }
};
struct CtxFree {
  void operator()(X509_STORE_CTX* c) const noexcept { X509_STORE_CTX_free(c); }
};
struct StackFree {
  void operator()(STACK_OF(X509) * s) const noexcept { sk_X509_pop_free(s, X509_free); }
};
using Cert = std::unique_ptr<X509, X509Free>;
using Store = std::unique_ptr<X509_STORE, StoreFree>;
using Ctx = std::unique_ptr<X509_STORE_CTX, CtxFree>;
using Certs = std::unique_ptr<STACK_OF(X509), StackFree>;

Cert load(const fs::path& pem) {
  std::FILE* f = std::fopen(pem.c_str(), "r");
  if (f == nullptr) throw std::runtime_error("cannot open " + pem.string());
  X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (x == nullptr) throw std::runtime_error("not a PEM certificate: " + pem.string());
  return Cert(x);
}

Store store_of(const fs::path& ca) {
  Store s(X509_STORE_new());
  Cert c = load(ca);
  X509_STORE_add_cert(s.get(), c.get());
  return s;
}

// A context as OpenSSL's client sets one up for a server's chain: the leaf, the
// rest as untrusted, the "ssl_server" defaults.
struct Check {
  Cert leaf;
  Certs untrusted{sk_X509_new_null()};
  Ctx ctx{X509_STORE_CTX_new()};
  Check(X509_STORE* store, const fs::path& leaf_pem, const fs::path& intermediate_pem)
      : leaf(load(leaf_pem)) {
    sk_X509_push(untrusted.get(), load(intermediate_pem).release());
    X509_STORE_CTX_init(ctx.get(), store, leaf.get(), untrusted.get());
    X509_STORE_CTX_set_default(ctx.get(), "ssl_server");
  }
  X509* intermediate() const { return sk_X509_value(untrusted.get(), 0); }
};

class TlsVerifyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_ = new Pki; }
  static void TearDownTestSuite() { delete pki_; }
  static Pki* pki_;
};
Pki* TlsVerifyTest::pki_ = nullptr;

TEST_F(TlsVerifyTest, ReportsTheChainInTheConnectionsOwnCertificates) {
  Store store = store_of(pki_->root);
  Check c(store.get(), pki_->leaf, pki_->intermediate);
  ASSERT_EQ(verify_on_copies(c.ctx.get(), nullptr), 1);
  EXPECT_EQ(X509_STORE_CTX_get_error(c.ctx.get()), X509_V_OK);
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(c.ctx.get());
  ASSERT_NE(chain, nullptr);
  ASSERT_EQ(sk_X509_num(chain), 3);
  EXPECT_EQ(sk_X509_value(chain, 0), c.leaf.get());  // the same objects, not the copies
  EXPECT_EQ(sk_X509_value(chain, 1), c.intermediate());
  Cert root = load(pki_->root);
  EXPECT_EQ(X509_cmp(sk_X509_value(chain, 2), root.get()), 0);
}

// Unknown issuer, wrong purpose: the error, depth and current certificate that
// X509_verify_cert gives on the same input.
TEST_F(TlsVerifyTest, FailsAsX509VerifyCertDoes) {
  struct Case {
    const fs::path* ca;
    const fs::path* leaf;
    int error;
  };
  for (Case k : {Case{&pki_->other_root, &pki_->leaf, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY},
                 Case{&pki_->root, &pki_->client_leaf, X509_V_ERR_INVALID_PURPOSE}}) {
    Store store = store_of(*k.ca);
    Check ours(store.get(), *k.leaf, pki_->intermediate);
    Check theirs(store.get(), *k.leaf, pki_->intermediate);
    int want = X509_verify_cert(theirs.ctx.get());
    EXPECT_EQ(want, 0);
    EXPECT_EQ(X509_STORE_CTX_get_error(theirs.ctx.get()), k.error);
    EXPECT_EQ(verify_on_copies(ours.ctx.get(), nullptr), want);
    EXPECT_EQ(X509_STORE_CTX_get_error(ours.ctx.get()), k.error);
    EXPECT_EQ(X509_STORE_CTX_get_error_depth(ours.ctx.get()),
              X509_STORE_CTX_get_error_depth(theirs.ctx.get()));
    X509* current = X509_STORE_CTX_get_current_cert(ours.ctx.get());
    ASSERT_NE(current, nullptr);
    EXPECT_EQ(X509_cmp(current, X509_STORE_CTX_get_current_cert(theirs.ctx.get())), 0);
    EXPECT_TRUE(current == ours.leaf.get() || current == ours.intermediate())
        << "the current certificate is one of the context's own";
  }
}

// The point of it: after X509_verify_cert the leaf holds its parsed
// subjectAltName (kNames entries, several allocations each) for as long as it
// lives (a connection's lifetime); after verify_on_copies it holds nothing more.
TEST_F(TlsVerifyTest, LeavesNoParsedExtensionsOnTheCertificates) {
  ASSERT_TRUE(counting_installed)
      << "OpenSSL allocated before the counting allocator was installed";
  Store store = store_of(pki_->root);
  auto retained = [&](bool lean) {
    Check c(store.get(), pki_->leaf, pki_->intermediate);
    long before = live_allocations.load();
    int ok = lean ? verify_on_copies(c.ctx.get(), nullptr) : X509_verify_cert(c.ctx.get());
    EXPECT_EQ(ok, 1);
    c.ctx.reset();  // the certificates outlive the check, as in a connection
    return live_allocations.load() - before;
  };
  retained(false);  // warm-up: first-use caches (the store's CA, algorithms)
  retained(true);
  long theirs = retained(false);
  long ours = retained(true);
  EXPECT_GT(theirs, kNames)
      << "X509_verify_cert no longer caches extensions: this test lost its point";
  EXPECT_LT(ours, kNames / 10) << "verify_on_copies left " << ours << " allocations behind";
}

}  // namespace
