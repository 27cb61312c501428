// redis::Reply's accessors and errors, ResponseError's kind(), command
// arguments, and Script's SHA-1; no server needed.
#include "corun/redis/reply.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "corun/redis/errors.hpp"
#include "corun/redis/script.hpp"

namespace {

using corun::redis::Reply;
using corun::redis::ReplyTypeError;
using corun::redis::ResponseError;

TEST(RedisReply, TypesAndAccessors) {
  EXPECT_TRUE(Reply().is_nil());
  EXPECT_EQ(Reply::integer(-7).as_integer(), -7);
  EXPECT_EQ(Reply::status("OK").as_status(), "OK");
  EXPECT_EQ(Reply::status("OK").as_string(), "OK");  // a status is a string to callers
  EXPECT_EQ(Reply::error("ERR x").as_error(), "ERR x");
  std::string bytes("a\0b\r\n", 5);
  EXPECT_EQ(Reply::string(bytes).as_string(), bytes);
  EXPECT_EQ(Reply::string("v").as_optional_string(), std::optional<std::string>("v"));
  EXPECT_EQ(Reply().as_optional_string(), std::nullopt);
  Reply nested = Reply::array({Reply::integer(1), Reply::array({Reply::string("x"), Reply()})});
  ASSERT_EQ(nested.size(), 2u);
  EXPECT_EQ(nested[1][0].as_string(), "x");
  EXPECT_TRUE(nested[1][1].is_nil());
  EXPECT_EQ(nested.repr(), "[1, [\"x\", nil]]");
  EXPECT_EQ(Reply::string(bytes).repr(), "\"a\\x00b\\x0d\\x0a\"");
  EXPECT_THROW((void)nested[2], std::out_of_range);
}

TEST(RedisReply, MismatchNamesBothTypes) {
  try {
    (void)Reply::string("abc").as_integer();
    FAIL() << "no error";
  } catch (const ReplyTypeError& e) {
    EXPECT_STREQ(e.what(), "expected a Redis integer reply, got bulk string \"abc\"");
  }
  EXPECT_THROW((void)Reply().as_string(), ReplyTypeError);
  EXPECT_THROW((void)Reply::integer(1).as_array(), ReplyTypeError);
  EXPECT_THROW((void)Reply::integer(1).size(), ReplyTypeError);
  EXPECT_THROW((void)Reply::string("x").as_status(), ReplyTypeError);
  EXPECT_THROW((void)Reply::status("x").as_optional_string(), ReplyTypeError);
  EXPECT_THROW((void)Reply::error("ERR").as_string(), ReplyTypeError);
  // ReplyTypeError is a redis::Error.
  EXPECT_THROW((void)Reply().as_integer(), corun::redis::Error);
}

TEST(RedisReply, Equality) {
  EXPECT_EQ(Reply::array({Reply::integer(1)}), Reply::array({Reply::integer(1)}));
  EXPECT_NE(Reply::status("OK"), Reply::string("OK"));
  EXPECT_NE(Reply::integer(1), Reply::integer(2));
}

TEST(RedisResponseError, KindIsTheLeadingCode) {
  EXPECT_EQ(ResponseError("WRONGTYPE Operation against a key").kind(), "WRONGTYPE");
  EXPECT_EQ(ResponseError("ERR unknown command").kind(), "ERR");
  EXPECT_EQ(ResponseError("NOSCRIPT").kind(), "NOSCRIPT");
  EXPECT_EQ(ResponseError("Error without code").kind(), "");
  ResponseError e("ERR DB index is out of range", "SELECT", "SELECT 99 on h:1 failed");
  EXPECT_STREQ(e.what(), "SELECT 99 on h:1 failed: ERR DB index is out of range");
  EXPECT_EQ(e.kind(), "ERR");
  EXPECT_EQ(e.command(), "SELECT");
  EXPECT_EQ(e.server_message(), "ERR DB index is out of range");
}

TEST(RedisErrors, TimeoutIsACorunTimeout) {
  try {
    throw corun::redis::TimeoutError("GET timed out");
  } catch (const corun::TimeoutError& e) {
    EXPECT_STREQ(e.what(), "GET timed out");
  }
}

TEST(RedisArgs, StringsNumbersAndLists) {
  std::vector<std::string> keys{"k1", "k2"};
  std::string_view view("sv");
  auto argv = corun::redis::detail::make_argv("MSET", std::string("s"), view, 42, -3L, 2.5, keys);
  std::vector<std::string> expected{"MSET", "s", "sv", "42", "-3", "2.5", "k1", "k2"};
  EXPECT_EQ(argv, expected);
  EXPECT_EQ(corun::redis::detail::make_argv(0.1)[0], "0.1");
  static_assert(!corun::redis::detail::CommandArg<bool>);
}

TEST(RedisScript, Sha1MatchesKnownDigests) {
  using corun::redis::detail::sha1_hex;
  EXPECT_EQ(sha1_hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(sha1_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  EXPECT_EQ(sha1_hex(std::string(1000000, 'a')), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  // Lengths around the padding boundaries (Python's hashlib computed these).
  const std::pair<std::size_t, const char*> around_padding[] = {
      {55, "cef734ba81a024479e09eb5a75b6ddae62e6abf1"},
      {56, "901305367c259952f4e7af8323f480d59f81335b"},
      {63, "0ddc4e0cccd9a12850deb5abb0853a4425559fec"},
      {64, "bb2fa3ee7afb9f54c6dfb5d021f14b1ffe40c163"},
      {119, "4300320394f7ee239bcdce7d3b8bcee173a0cd5c"},
      {120, "ceb2821639c4b6dcb10bce0e522ca2e608ce056d"},
  };
  for (const auto& [n, digest] : around_padding) {
    EXPECT_EQ(sha1_hex(std::string(n, 'x')), digest) << n;
  }
  EXPECT_EQ(corun::redis::Script("return 1").sha(), sha1_hex("return 1"));
}

}  // namespace
