// corun::text decoding: bytes in any WHATWG encoding -> UTF-8, exactly as the
// Encoding Standard's decoders specify (where U+FFFD goes, how many bytes a bad
// sequence consumes, what a truncated sequence at the end becomes).
// Python's bytes.decode(encoding, errors) with errors "replace" or "strict".
#pragma once

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "corun/text/encoding.hpp"

namespace corun::text {

enum class Errors : std::uint8_t {
  replace,  // each error becomes U+FFFD (the standard's "replacement" mode)
  strict,   // the first error throws DecodeError (the standard's "fatal" mode)
};

// Thrown in strict mode; offset() is the byte offset (from the start of all input
// fed so far) of the first byte of the offending sequence.
class DecodeError : public std::runtime_error {
 public:
  DecodeError(Encoding encoding, std::size_t offset);
  Encoding encoding() const noexcept { return encoding_; }
  std::size_t offset() const noexcept { return offset_; }

 private:
  Encoding encoding_;
  std::size_t offset_;
};

// One-shot decode. Does not sniff: the encoding given is used. For UTF-8 and
// UTF-16LE/BE a leading BOM of that same encoding is removed (as the standard's
// "decode" does when the BOM agrees); other encodings keep every byte.
std::string decode(std::string_view bytes, Encoding encoding, Errors errors = Errors::replace);
// Same, resolving a label first (LookupError for an unknown label).
std::string decode(std::string_view bytes, std::string_view label, Errors errors = Errors::replace);

// Streaming decoder: feed() chunks split anywhere, then finish(). The
// concatenated output equals decode() of the concatenated input, whatever the
// chunk boundaries. Memory is bounded by the chunk size (a few bytes of state
// carry over between chunks). Not thread-safe; movable.
// Timing (TextDecoder.decode(chunk, {stream: true})): after each feed() the output
// is everything the standard's decoder has emitted once it has read those bytes;
// only a sequence still in progress is held back (a lead byte, part of a UTF-8 or
// gb18030 sequence, an odd UTF-16 byte or a lead surrogate, part of an ISO-2022-JP
// escape; a BOM prefix is one of these). In strict mode the feed() that gives the
// byte making the input invalid throws; finish() throws only for a sequence cut
// short by the end of input.
class Decoder {
 public:
  explicit Decoder(Encoding encoding, Errors errors = Errors::replace);
  ~Decoder();
  Decoder(Decoder&&) noexcept;
  Decoder& operator=(Decoder&&) noexcept;

  // Appends the UTF-8 decoded so far to out.
  void feed(std::string_view chunk, std::string& out);
  std::string feed(std::string_view chunk);
  // End of input: flushes a pending truncated sequence (U+FFFD, or DecodeError).
  void finish(std::string& out);
  std::string finish();

  Encoding encoding() const noexcept;
  std::size_t bytes_fed() const noexcept;

  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace corun::text
