// One-shot and streaming decoding: both run the same kernels (decoder_kernels.hpp).
// The streaming Decoder keeps the unconsumed tail of the previous chunk (fewer than
// kMaxSequence bytes) and joins it with the head of the next chunk.
#include "corun/text/decode.hpp"

#include <algorithm>
#include <array>
#include <string>

#include "decoder_kernels.hpp"

namespace corun::text {

namespace {

std::string decode_error_message(Encoding encoding, std::size_t offset) {
  std::string s = "cannot decode ";
  s.append(name(encoding));
  s += ": invalid byte sequence at offset ";
  s += std::to_string(offset);
  return s;
}

detail::Kernel kernel_for(Encoding e) {
  using namespace detail;
  switch (e) {
    case Encoding::utf_8:
      return decode_utf8;
    case Encoding::gbk:
    case Encoding::gb18030:
      return decode_gb18030;
    case Encoding::big5:
      return decode_big5;
    case Encoding::euc_jp:
      return decode_euc_jp;
    case Encoding::iso_2022_jp:
      return decode_iso_2022_jp;
    case Encoding::shift_jis:
      return decode_shift_jis;
    case Encoding::euc_kr:
      return decode_euc_kr;
    case Encoding::replacement:
      return decode_replacement;
    case Encoding::utf_16be:
      return decode_utf16be;
    case Encoding::utf_16le:
      return decode_utf16le;
    case Encoding::x_user_defined:
      return decode_x_user_defined;
    default:
      return decode_single_byte;
  }
}

// The BOM decode() removes when it agrees with the encoding; empty for others.
std::string_view bom_for(Encoding e) {
  switch (e) {
    case Encoding::utf_8:
      return "\xEF\xBB\xBF";
    case Encoding::utf_16be:
      return "\xFE\xFF";
    case Encoding::utf_16le:
      return "\xFF\xFE";
    default:
      return {};
  }
}

}  // namespace

namespace detail {

void Sink::fail(char* w, std::size_t i) {
  out.commit(w);
  throw DecodeError(encoding, base + i);
}

}  // namespace detail

DecodeError::DecodeError(Encoding encoding, std::size_t offset)
    : std::runtime_error(decode_error_message(encoding, offset)),
      encoding_(encoding),
      offset_(offset) {}

struct Decoder::State {
  Encoding encoding;
  Errors errors;
  detail::Kernel kernel;
  std::string_view bom;      // still to be checked at the start of input, or empty
  std::size_t consumed = 0;  // bytes before pending
  std::size_t fed = 0;       // bytes given to feed()
  std::array<std::uint8_t, 2 * detail::kMaxSequence> pending{};
  std::size_t pending_size = 0;
  detail::Iso2022JpState jp;
  bool replacement_done = false;

  State(Encoding e, Errors err)
      : encoding(e), errors(err), kernel(kernel_for(e)), bom(bom_for(e)) {}

  std::size_t run(const std::uint8_t* in, std::size_t n, bool last, std::string& out) {
    detail::Output o(out);
    detail::Sink sink{o, encoding, errors, consumed, last, &jp, &replacement_done};
    std::size_t used = kernel(in, n, sink);
    consumed += used;
    return used;
  }

  void process(std::string_view chunk, bool last, std::string& out) {
    auto in = reinterpret_cast<const std::uint8_t*>(chunk.data());
    std::size_t n = chunk.size();
    fed += n;
    // Leading BOM: hold bytes only while they are a proper prefix of it. Those are
    // an incomplete sequence of the encoding too (EF, EF BB in UTF-8; one byte in
    // UTF-16), which the standard's decoder holds anyway; the first byte that differs
    // settles it, so no output or strict-mode error waits on the BOM check.
    if (!bom.empty()) {
      while (pending_size < bom.size() && n > 0 &&
             *in == static_cast<std::uint8_t>(bom[pending_size])) {
        pending[pending_size++] = *in++;
        --n;
      }
      if (pending_size == bom.size()) {
        pending_size = 0;
        consumed += bom.size();
        bom = {};
      } else if (n > 0 || last) {
        bom = {};  // not a BOM: the bytes held so far are decoded as text below
      } else {
        return;
      }
    }
    if (pending_size > 0) {
      // Join the pending tail with up to kMaxSequence new bytes: the kernel then
      // either gets past the old tail, or (a tiny chunk) the whole join is pending.
      std::size_t take = std::min(n, detail::kMaxSequence);
      std::array<std::uint8_t, 2 * detail::kMaxSequence> join{};
      std::copy_n(pending.begin(), pending_size, join.begin());
      std::copy_n(in, take, join.begin() + static_cast<std::ptrdiff_t>(pending_size));
      std::size_t join_size = pending_size + take;
      bool join_last = last && take == n;
      std::size_t used = run(join.data(), join_size, join_last, out);
      if (used < pending_size) {
        // Only possible when the whole chunk fit in the join.
        std::size_t rest = join_size - used;
        std::copy_n(join.begin() + static_cast<std::ptrdiff_t>(used), rest, pending.begin());
        pending_size = rest;
        return;
      }
      std::size_t skip = used - pending_size;
      pending_size = 0;
      in += skip;
      n -= skip;
      if (n == 0) return;
    }
    std::size_t used = run(in, n, last, out);
    std::copy_n(in + used, n - used, pending.begin());
    pending_size = n - used;
  }
};

Decoder::Decoder(Encoding encoding, Errors errors)
    : state_(std::make_unique<State>(encoding, errors)) {}
Decoder::~Decoder() = default;
Decoder::Decoder(Decoder&&) noexcept = default;
Decoder& Decoder::operator=(Decoder&&) noexcept = default;

void Decoder::feed(std::string_view chunk, std::string& out) {
  state_->process(chunk, false, out);
}

std::string Decoder::feed(std::string_view chunk) {
  std::string out;
  feed(chunk, out);
  return out;
}

void Decoder::finish(std::string& out) {
  state_->process({}, true, out);
}

std::string Decoder::finish() {
  std::string out;
  finish(out);
  return out;
}

Encoding Decoder::encoding() const noexcept {
  return state_->encoding;
}
std::size_t Decoder::bytes_fed() const noexcept {
  return state_->fed;
}

std::string decode(std::string_view bytes, Encoding encoding, Errors errors) {
  Decoder::State state(encoding, errors);
  std::string out;
  // Short input: the worst case (what the kernel asks for). Long input: typical
  // output is about as long as the input (ASCII) or 1.5x (CJK), plus the headroom
  // the kernels ask for per block. One allocation in the common case.
  std::size_t n = bytes.size();
  out.reserve(n <= detail::kBlock
                  ? detail::kMaxExpansion * n + detail::kSlack
                  : n + n / 2 + detail::kMaxExpansion * detail::kBlock + detail::kSlack);
  state.process(bytes, true, out);
  return out;
}

std::string decode(std::string_view bytes, std::string_view label, Errors errors) {
  return decode(bytes, encoding_for_label(label), errors);
}

}  // namespace corun::text
