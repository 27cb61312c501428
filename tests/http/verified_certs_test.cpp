// corun::http::detail::VerifiedCerts: what is remembered, for how long, how many.
// (Its use in real handshakes: TlsTest.AServerCertificateIsVerifiedOncePerSession.)
#include "corun/http/detail/verified_certs.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace {

using corun::http::detail::VerifiedCerts;
using namespace std::chrono_literals;

VerifiedCerts::Digest digest_of(unsigned n) {
  VerifiedCerts::Digest d{};
  for (std::size_t i = 0; i < d.size(); ++i)
    d[i] = static_cast<unsigned char>((n >> (8 * (i % 4))) + i);
  return d;
}

TEST(VerifiedCerts, ALeafIsKnownUntilItsEntryExpires) {
  VerifiedCerts c;
  auto now = VerifiedCerts::Clock::now();
  EXPECT_FALSE(c.known(digest_of(1), now));
  c.remember(digest_of(1), now + 10s);
  EXPECT_TRUE(c.known(digest_of(1), now));
  EXPECT_TRUE(c.known(digest_of(1), now + 9s));
  EXPECT_FALSE(c.known(digest_of(2), now));
  EXPECT_EQ(c.hits(), 2u);
  // At its expiry it is gone, and stays gone.
  EXPECT_FALSE(c.known(digest_of(1), now + 10s));
  EXPECT_FALSE(c.known(digest_of(1), now));
  EXPECT_EQ(c.size(), 0u);
  EXPECT_EQ(c.hits(), 2u);
}

TEST(VerifiedCerts, TheDefaultLifetimeIsFiveMinutes) {
  EXPECT_EQ(VerifiedCerts().ttl(), 300s);
  EXPECT_EQ(VerifiedCerts(7s).ttl(), 7s);
}

TEST(VerifiedCerts, StaysBoundedAndDropsExpiredEntriesFirst) {
  VerifiedCerts c;
  auto now = VerifiedCerts::Clock::now();
  // Full of expired entries: the next one makes room by dropping them.
  for (unsigned i = 0; i < VerifiedCerts::kMaxEntries; ++i) c.remember(digest_of(i), now - 1s);
  EXPECT_EQ(c.size(), VerifiedCerts::kMaxEntries);
  c.remember(digest_of(100000), now + 60s);
  EXPECT_EQ(c.size(), 1u);
  EXPECT_TRUE(c.known(digest_of(100000), now));
  // Full of live entries: it starts again rather than grow.
  VerifiedCerts live;
  for (unsigned i = 0; i < VerifiedCerts::kMaxEntries; ++i) live.remember(digest_of(i), now + 60s);
  EXPECT_EQ(live.size(), VerifiedCerts::kMaxEntries);
  live.remember(digest_of(1), now + 90s);  // one it has: replaced, nothing dropped
  EXPECT_EQ(live.size(), VerifiedCerts::kMaxEntries);
  live.remember(digest_of(200000), now + 60s);
  EXPECT_EQ(live.size(), 1u);
  EXPECT_TRUE(live.known(digest_of(200000), now));
}

}  // namespace
