// Differential tests: corun::text::decode against three independent decoders that
// run on this machine: ICU 72 (ucnv), Python's codecs (Debian's /usr/bin/python3, one
// subprocess per encoding) and glibc iconv.
//
// None of the peers implements the WHATWG Encoding Standard, so outputs are compared
// only where both sides claim the same mapping, and every place where a peer differs
// from the standard is written down below and asserted AS a deviation (a test named
// after it): if a peer or corun changes, the test says which.
//
// Method, per encoding:
// 1. Characters: every single- and double-byte sequence (every gb18030 four-byte BMP
//    sequence, a sample of the supplementary ones) decoded alone by corun and by the
//    peer. Sequences both decode to one character without error must agree; the sets
//    where they do not are the deviations, compared with the lists written here.
// 2. Streams: random, valid-heavy and invalid-heavy byte strings. Valid-heavy streams
//    are built from sequences both sides map alike (step 1), so corun and the peer must
//    give identical text; for invalid input the U+FFFD positions are compared where the
//    peer's error handling is documented to be the standard's (UTF-8: maximal subparts,
//    as Unicode 3.9 and WHATWG; UTF-16; single-byte), and the strict-mode offset of the
//    first error is compared everywhere it is meaningful.
// 3. Real pages: make_corpus.py pages and sample texts encoded by Python
//    (tests/text/data/), decoded by all of them.
// 4. glibc iconv (no replacement mode): where it stops equals the strict-mode offset;
//    its own GB18030 and UTF-8 deviations are listed.
// Not covered here: replacement and x-user-defined, which no peer implements.
#include <gtest/gtest.h>
#include <iconv.h>
#include <unicode/ucnv.h>
#include <unicode/ucnv_cb.h>
#include <unicode/ustring.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "corun/text/decode.hpp"
#include "corun/text/encoding.hpp"
#include "corun/text/utf8.hpp"

namespace corun::text {
namespace {

namespace fs = std::filesystem;
using namespace std::string_literals;

constexpr long kOk = -1;  // strict decode succeeded

// ---------------------------------------------------------------------------------------
// Small UTF-8 helpers.

std::string utf8(char32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    s.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    s.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return s;
}

// Code points of well-formed UTF-8.
std::vector<char32_t> code_points(std::string_view s) {
  std::vector<char32_t> out;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    char32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    for (std::size_t k = 1; k < n && i + k < s.size(); ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    }
    out.push_back(cp);
    i += n;
  }
  return out;
}

std::string hex(std::string_view bytes) {
  std::string s;
  char buf[4];
  for (char c : bytes) {
    std::snprintf(buf, sizeof buf, "%02X", static_cast<unsigned char>(c));
    if (!s.empty()) s += ' ';
    s += buf;
  }
  return s;
}

std::string describe(std::string_view text) {
  std::string s;
  char buf[16];
  for (char32_t cp : code_points(text)) {
    std::snprintf(buf, sizeof buf, "U+%04X ", static_cast<unsigned>(cp));
    s += buf;
  }
  return s;
}

// ---------------------------------------------------------------------------------------
// corun.

std::string ours(std::string_view bytes, Encoding e) {
  return decode(bytes, e);
}

long ours_strict(std::string_view bytes, Encoding e) {
  try {
    decode(bytes, e, Errors::strict);
    return kOk;
  } catch (const DecodeError& error) {
    return static_cast<long>(error.offset());
  }
}

// ---------------------------------------------------------------------------------------
// ICU: ucnv with a callback that always substitutes U+FFFD (ICU's own substitute
// callback writes U+001A for single unassigned bytes of table-based converters), or
// with the STOP callback for the strict offset.

void substitute_fffd(const void*, UConverterToUnicodeArgs* args, const char*, int32_t,
                     UConverterCallbackReason reason, UErrorCode* err) {
  if (reason > UCNV_IRREGULAR) return;  // reset, close, clone
  static const UChar kFffd = 0xFFFD;
  *err = U_ZERO_ERROR;
  ucnv_cbToUWriteUChars(args, &kFffd, 1, 0, err);
}

struct ConverterCloser {
  void operator()(UConverter* c) const noexcept { ucnv_close(c); }
};
using Converter = std::unique_ptr<UConverter, ConverterCloser>;

// Converters are cached per name (opening one per short input would dominate the time)
// and reset before each use.
UConverter* open_icu(const char* name) {
  static std::map<std::string, Converter> cache;
  auto it = cache.find(name);
  if (it == cache.end()) {
    UErrorCode err = U_ZERO_ERROR;
    Converter c(ucnv_open(name, &err));
    if (U_FAILURE(err)) c.reset();
    it = cache.emplace(name, std::move(c)).first;
  }
  if (it->second) ucnv_reset(it->second.get());
  return it->second.get();
}

std::string to_utf8(const std::u16string& u) {
  std::string out(u.size() * 3 + 4, '\0');
  int32_t length = 0;
  UErrorCode err = U_ZERO_ERROR;
  u_strToUTF8WithSub(out.data(), static_cast<int32_t>(out.size()), &length, u.data(),
                     static_cast<int32_t>(u.size()), 0xFFFD, nullptr, &err);
  out.resize(static_cast<std::size_t>(length));
  return out;
}

std::string icu(const char* name, std::string_view bytes) {
  UConverter* c = open_icu(name);
  if (!c) return "<no converter>";
  UErrorCode err = U_ZERO_ERROR;
  ucnv_setToUCallBack(c, substitute_fffd, nullptr, nullptr, nullptr, &err);
  std::u16string out(bytes.size() * 2 + 16, u'\0');
  const char* src = bytes.data();
  UChar* dst = out.data();
  ucnv_toUnicode(c, &dst, dst + out.size(), &src, src + bytes.size(), nullptr, true, &err);
  if (U_FAILURE(err)) return "<ICU error " + std::string(u_errorName(err)) + ">";
  out.resize(static_cast<std::size_t>(dst - out.data()));
  return to_utf8(out);
}

long icu_strict(const char* name, std::string_view bytes) {
  UConverter* c = open_icu(name);
  if (!c) return -2;
  UErrorCode err = U_ZERO_ERROR;
  ucnv_setToUCallBack(c, UCNV_TO_U_CALLBACK_STOP, nullptr, nullptr, nullptr, &err);
  std::u16string out(bytes.size() * 2 + 16, u'\0');
  const char* src = bytes.data();
  UChar* dst = out.data();
  ucnv_toUnicode(c, &dst, dst + out.size(), &src, src + bytes.size(), nullptr, true, &err);
  if (!U_FAILURE(err)) return kOk;
  char invalid[32];
  int8_t invalid_length = sizeof invalid;
  UErrorCode err2 = U_ZERO_ERROR;
  ucnv_getInvalidChars(c, invalid, &invalid_length, &err2);
  return static_cast<long>(src - bytes.data()) - invalid_length;
}

// ---------------------------------------------------------------------------------------
// glibc iconv: no replacement mode at all; the offset where it stops (EILSEQ, or EINVAL
// for a truncated sequence at the end).

long iconv_strict(const char* name, std::string_view bytes, std::string* text = nullptr) {
  // One descriptor per name for the whole run (opening one per short input would
  // dominate), returned to its initial state before each use.
  struct Cache {
    std::map<std::string, iconv_t> map;
    ~Cache() {
      for (auto& [n, cd] : map) {
        if (cd != reinterpret_cast<iconv_t>(-1)) iconv_close(cd);
      }
    }
  };
  static Cache cached;
  auto& cache = cached.map;
  auto it = cache.find(name);
  if (it == cache.end()) it = cache.emplace(name, iconv_open("UTF-8", name)).first;
  iconv_t cd = it->second;
  if (cd == reinterpret_cast<iconv_t>(-1)) return -2;
  iconv(cd, nullptr, nullptr, nullptr, nullptr);
  std::string input(bytes);
  char* in = input.data();
  std::size_t in_left = input.size();
  std::string out(input.size() * 4 + 16, '\0');
  char* o = out.data();
  std::size_t o_left = out.size();
  const std::size_t r = iconv(cd, &in, &in_left, &o, &o_left);
  long result = kOk;
  if (r == static_cast<std::size_t>(-1)) result = static_cast<long>(in - input.data());
  if (text) *text = out.substr(0, out.size() - o_left);
  return result;
}

// ---------------------------------------------------------------------------------------
// Python: one subprocess per call, over a file of records (see data/python_decode.py).

struct PyResult {
  std::string text;
  long strict = kOk;
};

fs::path source_dir() {
  if (const char* s = std::getenv("CORUN_SOURCE_DIR")) return s;
  return fs::path(__FILE__).parent_path().parent_path().parent_path();
}

// Next to the test binary, so nothing lands outside the build directory.
fs::path scratch_dir() {
  std::error_code ec;
  fs::path base = fs::read_symlink("/proc/self/exe", ec).parent_path();
  if (ec || base.empty()) base = fs::temp_directory_path();
  base /= "differential-scratch";
  fs::create_directories(base);
  return base;
}

void put_u32(std::string& s, std::uint32_t v) {
  for (int k = 0; k < 4; ++k) s.push_back(static_cast<char>((v >> (8 * k)) & 0xFF));
}

std::uint32_t get_u32(const std::string& s, std::size_t& pos) {
  std::uint32_t v = 0;
  for (int k = 0; k < 4; ++k)
    v |= static_cast<std::uint32_t>(static_cast<unsigned char>(s[pos + k])) << (8 * k);
  pos += 4;
  return v;
}

std::vector<PyResult> python(const std::string& codec, const std::vector<std::string>& inputs) {
  const fs::path dir = scratch_dir();
  // Unique per process and call: ctest may run several of these tests at once.
  static int calls = 0;
  const std::string stem = codec + "-" + std::to_string(::getpid()) + "-" + std::to_string(++calls);
  const fs::path in = dir / (stem + ".in");
  const fs::path out = dir / (stem + ".out");
  {
    std::string records;
    for (const std::string& s : inputs) {
      put_u32(records, static_cast<std::uint32_t>(s.size()));
      records += s;
    }
    std::ofstream f(in, std::ios::binary);
    f << records;
  }
  const fs::path script = source_dir() / "tests" / "text" / "data" / "python_decode.py";
  const std::string command = "/usr/bin/python3 '" + script.string() + "' " + codec + " '" +
                              in.string() + "' '" + out.string() + "'";
  std::vector<PyResult> results;
  if (std::system(command.c_str()) != 0) {
    ADD_FAILURE() << "failed: " << command;
    return results;
  }
  std::ifstream f(out, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string data = ss.str();
  for (std::size_t pos = 0; pos + 8 <= data.size();) {
    PyResult r;
    const std::uint32_t n = get_u32(data, pos);
    r.text = data.substr(pos, n);
    pos += n;
    r.strict = static_cast<std::int32_t>(get_u32(data, pos));
    results.push_back(std::move(r));
  }
  EXPECT_EQ(results.size(), inputs.size()) << command;
  fs::remove(in);
  fs::remove(out);
  return results;
}

// ---------------------------------------------------------------------------------------
// The peers of each encoding (nullptr: no such decoder).

struct Peers {
  Encoding encoding;
  const char* icu;
  const char* python;
  const char* iconv;
};

const Peers kPeers[] = {
    {Encoding::utf_8, "UTF-8", "utf-8", "UTF-8"},
    {Encoding::ibm866, "ibm-866", "cp866", "IBM866"},
    {Encoding::iso_8859_2, "ISO-8859-2", "iso8859_2", "ISO-8859-2"},
    {Encoding::iso_8859_3, "ISO-8859-3", "iso8859_3", "ISO-8859-3"},
    {Encoding::iso_8859_4, "ISO-8859-4", "iso8859_4", "ISO-8859-4"},
    {Encoding::iso_8859_5, "ISO-8859-5", "iso8859_5", "ISO-8859-5"},
    {Encoding::iso_8859_6, "ISO-8859-6", "iso8859_6", "ISO-8859-6"},
    {Encoding::iso_8859_7, "ISO-8859-7", "iso8859_7", "ISO-8859-7"},
    {Encoding::iso_8859_8, "ISO-8859-8", "iso8859_8", "ISO-8859-8"},
    {Encoding::iso_8859_8_i, "ISO-8859-8", "iso8859_8", "ISO-8859-8"},
    {Encoding::iso_8859_10, "ISO-8859-10", "iso8859_10", "ISO-8859-10"},
    {Encoding::iso_8859_13, "ISO-8859-13", "iso8859_13", "ISO-8859-13"},
    {Encoding::iso_8859_14, "ISO-8859-14", "iso8859_14", "ISO-8859-14"},
    {Encoding::iso_8859_15, "ISO-8859-15", "iso8859_15", "ISO-8859-15"},
    // ICU 72 as packaged by Debian has no ISO-8859-16 converter.
    {Encoding::iso_8859_16, nullptr, "iso8859_16", "ISO-8859-16"},
    {Encoding::koi8_r, "KOI8-R", "koi8_r", "KOI8-R"},
    {Encoding::koi8_u, "KOI8-U", "koi8_u", "KOI8-U"},
    {Encoding::macintosh, "macintosh", "mac_roman", "MACINTOSH"},
    {Encoding::windows_874, "windows-874", "cp874", "CP874"},
    {Encoding::windows_1250, "windows-1250", "cp1250", "CP1250"},
    {Encoding::windows_1251, "windows-1251", "cp1251", "CP1251"},
    {Encoding::windows_1252, "windows-1252", "cp1252", "CP1252"},
    {Encoding::windows_1253, "windows-1253", "cp1253", "CP1253"},
    {Encoding::windows_1254, "windows-1254", "cp1254", "CP1254"},
    {Encoding::windows_1255, "windows-1255", "cp1255", "CP1255"},
    {Encoding::windows_1256, "windows-1256", "cp1256", "CP1256"},
    {Encoding::windows_1257, "windows-1257", "cp1257", "CP1257"},
    {Encoding::windows_1258, "windows-1258", "cp1258", "CP1258"},
    {Encoding::x_mac_cyrillic, "x-mac-cyrillic", "mac_cyrillic", "MAC-CYRILLIC"},
    {Encoding::gbk, "GBK", "gbk", "GBK"},
    {Encoding::gb18030, "GB18030", "gb18030", "GB18030"},
    {Encoding::big5, "Big5-HKSCS", "big5hkscs", "BIG5-HKSCS"},
    {Encoding::euc_jp, "EUC-JP", "euc_jp", "EUC-JP"},
    {Encoding::iso_2022_jp, "ISO-2022-JP", "iso2022_jp", "ISO-2022-JP"},
    {Encoding::shift_jis, "windows-31j", "cp932", "CP932"},
    {Encoding::euc_kr, "windows-949", "cp949", "CP949"},
    {Encoding::utf_16be, "UTF-16BE", "utf-16-be", "UTF-16BE"},
    {Encoding::utf_16le, "UTF-16LE", "utf-16-le", "UTF-16LE"},
};

const Peers& peers(Encoding e) {
  for (const Peers& p : kPeers) {
    if (p.encoding == e) return p;
  }
  throw std::logic_error("no peers");
}

// ---------------------------------------------------------------------------------------
// Step 1: characters.

std::string bytes_of(std::initializer_list<int> bs) {
  std::string s;
  for (int b : bs) s.push_back(static_cast<char>(b));
  return s;
}

void add_pairs(std::vector<std::string>& out, int lead_lo, int lead_hi,
               std::initializer_list<std::pair<int, int>> trail_ranges) {
  for (int lead = lead_lo; lead <= lead_hi; ++lead) {
    for (auto [lo, hi] : trail_ranges) {
      for (int trail = lo; trail <= hi; ++trail) out.push_back(bytes_of({lead, trail}));
    }
  }
}

// Every sequence a decoder of e could map to one character (sampled where there are
// too many: UTF-8, UTF-16, gb18030's supplementary four-byte range).
std::vector<std::string> character_sequences(Encoding e) {
  std::vector<std::string> out;
  std::mt19937 rng(7);
  switch (e) {
    case Encoding::utf_8:
    case Encoding::utf_16be:
    case Encoding::utf_16le:
      for (char32_t cp = 1; cp <= 0x10FFFF; cp += (cp < 0x3000 ? 1 : 37)) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        const std::string u = utf8(cp);
        if (e == Encoding::utf_8) {
          out.push_back(u);
        } else {
          std::string w;
          auto unit = [&](unsigned v) {
            if (e == Encoding::utf_16be)
              w += bytes_of({int(v >> 8), int(v & 0xFF)});
            else
              w += bytes_of({int(v & 0xFF), int(v >> 8)});
          };
          if (cp < 0x10000) {
            unit(cp);
          } else {
            unit(0xD800 + ((cp - 0x10000) >> 10));
            unit(0xDC00 + ((cp - 0x10000) & 0x3FF));
          }
          if (w.substr(0, 2) != "\xFE\xFF" && w.substr(0, 2) != "\xFF\xFE") out.push_back(w);
        }
      }
      break;
    case Encoding::gbk:
    case Encoding::gb18030: {
      out.push_back(bytes_of({0x80}));
      out.push_back(bytes_of({0xFF}));
      add_pairs(out, 0x81, 0xFE, {{0x40, 0x7E}, {0x80, 0xFE}});
      for (int b1 = 0x81; b1 <= 0x84; ++b1) {
        for (int b2 = 0x30; b2 <= 0x39; ++b2) {
          for (int b3 = 0x81; b3 <= 0xFE; ++b3) {
            for (int b4 = 0x30; b4 <= 0x39; ++b4) out.push_back(bytes_of({b1, b2, b3, b4}));
          }
        }
      }
      std::uniform_int_distribution<int> d1(0x90, 0xE3), d2(0x30, 0x39), d3(0x81, 0xFE);
      for (int i = 0; i < 3000; ++i) out.push_back(bytes_of({d1(rng), d2(rng), d3(rng), d2(rng)}));
      break;
    }
    case Encoding::big5:
      add_pairs(out, 0x81, 0xFE, {{0x40, 0x7E}, {0xA1, 0xFE}});
      break;
    case Encoding::euc_jp:
      add_pairs(out, 0x8E, 0x8E, {{0xA1, 0xDF}});
      add_pairs(out, 0xA1, 0xFE, {{0xA1, 0xFE}});
      for (int b2 = 0xA1; b2 <= 0xFE; ++b2) {
        for (int b3 = 0xA1; b3 <= 0xFE; ++b3) out.push_back(bytes_of({0x8F, b2, b3}));
      }
      break;
    case Encoding::iso_2022_jp:
      for (int b1 = 0x21; b1 <= 0x7E; ++b1) {
        for (int b2 = 0x21; b2 <= 0x7E; ++b2) out.push_back("\x1B$B"s + bytes_of({b1, b2}));
      }
      for (int b = 0x21; b <= 0x5F; ++b) out.push_back("\x1B(I"s + bytes_of({b}));
      for (int b = 0x21; b <= 0x7E; ++b) out.push_back("\x1B(J"s + bytes_of({b}));
      break;
    case Encoding::shift_jis:
      for (int b = 0x80; b <= 0xFF; ++b) out.push_back(bytes_of({b}));
      add_pairs(out, 0x81, 0x9F, {{0x40, 0x7E}, {0x80, 0xFC}});
      add_pairs(out, 0xE0, 0xFC, {{0x40, 0x7E}, {0x80, 0xFC}});
      break;
    case Encoding::euc_kr:
      add_pairs(out, 0x81, 0xFE, {{0x41, 0xFE}});
      break;
    default:  // single-byte
      for (int b = 0; b <= 0xFF; ++b) out.push_back(bytes_of({b}));
      break;
  }
  return out;
}

enum class Peer : std::uint8_t { icu, python };

const char* peer_name(Peer p) {
  return p == Peer::icu ? "ICU" : "Python";
}

// How corun and a peer decode each character sequence.
struct CharacterComparison {
  std::vector<std::string> agreed;           // same text, both without error
  std::vector<std::string> mapping_differs;  // both without error, different text
  std::vector<std::string> peer_rejects;     // corun maps it, the peer reports an error
  std::vector<std::string> peer_accepts;     // the peer maps it, corun reports an error
  std::vector<std::string> both_reject;      // both report an error
  std::map<std::string, std::pair<std::string, std::string>> texts;  // bytes -> (ours, peer)
};

const CharacterComparison& compare_characters(Encoding e, Peer peer) {
  static std::map<std::pair<Encoding, Peer>, CharacterComparison> cache;
  auto it = cache.find({e, peer});
  if (it != cache.end()) return it->second;
  CharacterComparison& c = cache[{e, peer}];
  const std::vector<std::string> sequences = character_sequences(e);
  std::vector<PyResult> py;
  if (peer == Peer::python) py = python(peers(e).python, sequences);
  for (std::size_t i = 0; i < sequences.size(); ++i) {
    const std::string& s = sequences[i];
    const std::string o = ours(s, e);
    const bool o_ok = ours_strict(s, e) == kOk;
    std::string p;
    bool p_ok;
    if (peer == Peer::icu) {
      p = icu(peers(e).icu, s);
      p_ok = icu_strict(peers(e).icu, s) == kOk;
    } else {
      if (i >= py.size()) break;
      p = py[i].text;
      p_ok = py[i].strict == kOk;
    }
    if (o_ok && p_ok && o == p) {
      c.agreed.push_back(s);
      continue;
    }
    c.texts[s] = {o, p};
    if (o_ok && p_ok) {
      c.mapping_differs.push_back(s);
    } else if (o_ok) {
      c.peer_rejects.push_back(s);
    } else if (p_ok) {
      c.peer_accepts.push_back(s);
    } else {
      c.both_reject.push_back(s);
    }
  }
  return c;
}

// ---------------------------------------------------------------------------------------
// Step 2: streams.

// A stream of `units` pieces: valid ones from `valid`, invalid ones (with probability
// invalid_rate) from `invalid`. ISO-2022-JP pieces carry their own escape sequence, so
// each is followed by a return to ASCII and one ASCII byte (two escapes in a row are an
// error in the standard).
std::string build_stream(Encoding e, const std::vector<std::string>& valid,
                         const std::vector<std::string>& invalid, double invalid_rate,
                         std::size_t units, std::mt19937& rng) {
  std::string out;
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  std::uniform_int_distribution<std::size_t> pick_valid(0, valid.size() - 1);
  std::uniform_int_distribution<std::size_t> pick_invalid(0,
                                                          invalid.empty() ? 0 : invalid.size() - 1);
  std::uniform_int_distribution<int> letter('a', 'z');
  const bool ascii_units =
      e != Encoding::utf_16be && e != Encoding::utf_16le && e != Encoding::iso_2022_jp;
  while (units-- > 0) {
    if (!invalid.empty() && coin(rng) < invalid_rate) {
      out += invalid[pick_invalid(rng)];
    } else if (ascii_units && coin(rng) < 0.3) {
      out.push_back(static_cast<char>(letter(rng)));
    } else {
      out += valid[pick_valid(rng)];
      if (e == Encoding::iso_2022_jp) out += "\x1B(Bx";
    }
  }
  // decode() drops a leading BOM of UTF-8/UTF-16 and the peers do not: never start with one.
  if (out.substr(0, 2) == "\xFE\xFF" || out.substr(0, 2) == "\xFF\xFE" ||
      out.substr(0, 3) == "\xEF\xBB\xBF") {
    out.insert(0, e == Encoding::utf_16le ? "a\0"s : e == Encoding::utf_16be ? "\0a"s : "a"s);
  }
  return out;
}

std::string random_bytes(std::size_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s.push_back(static_cast<char>(byte(rng)));
  if (s.substr(0, 2) == "\xFE\xFF" || s.substr(0, 2) == "\xFF\xFE") s[0] = 'a';
  if (s.substr(0, 3) == "\xEF\xBB\xBF") s[0] = 'a';
  return s;
}

// Invalid pieces for an encoding: lone lead bytes and sequences both sides reject.
std::vector<std::string> invalid_pieces(Encoding e, const CharacterComparison& c) {
  std::vector<std::string> out = c.both_reject;
  switch (e) {
    case Encoding::utf_8:
      for (const char* s :
           {"\x80", "\xBF", "\xC0\x80", "\xC2", "\xE0\x80", "\xE0\xA0", "\xED\xA0\x80", "\xF0\x80",
            "\xF0\x90\x80", "\xF4\x90\x80\x80", "\xF5", "\xFF", "\xFE"}) {
        out.emplace_back(s);
      }
      break;
    case Encoding::utf_16le:
      out.push_back("\x00\xD8"s);  // lone high surrogate
      out.push_back("\x00\xDC"s);  // lone low surrogate
      break;
    case Encoding::utf_16be:
      out.push_back("\xD8\x00"s);
      out.push_back("\xDC\x00"s);
      break;
    default:
      break;
  }
  return out;
}

std::string shape(std::string_view text) {
  std::string out;
  for (char32_t cp : code_points(text)) out.push_back(cp == 0xFFFD ? 'F' : cp < 0x80 ? 'a' : 'c');
  return out;
}

// ---------------------------------------------------------------------------------------
// Step 1 assertions: the deviations, counted. Each row says why a peer differs from the
// standard; a change in a peer or in corun changes a count and fails here.

struct CharacterDeviations {
  Encoding encoding;
  Peer peer;
  std::size_t mapping_differs;  // both map the sequence, to different text
  std::size_t peer_rejects;     // the standard maps it, the peer reports an error
  std::size_t peer_accepts;     // the peer maps it, the standard says error
  // Sequences both reject, but with different U+FFFD placement: "<bytes>B ours <shape>
  // peer <shape>" -> count, shapes written F = U+FFFD, a = ASCII, c = other.
  std::map<std::string, std::size_t> reject_shapes;
  const char* why;
};

const std::vector<CharacterDeviations>& character_deviations() {
  static const std::vector<CharacterDeviations> table = {
      {Encoding::ibm866,
       Peer::icu,
       3,
       0,
       0,
       {},
       "ICU's ibm-866 is IBM's table: 0x1A, 0x1C, 0x7F are rotated control codes"},
      {Encoding::koi8_u,
       Peer::icu,
       2,
       0,
       0,
       {},
       "WHATWG's KOI8-U is KOI8-RU: 0xAE/0xBE are U+045E/U+040E, not box drawing"},
      {Encoding::koi8_u, Peer::python, 2, 0, 0, {}, "same as ICU"},
      {Encoding::windows_874,
       Peer::icu,
       0,
       0,
       8,
       {},
       "ICU maps 0xDB-0xDE and 0xFC-0xFF to PUA U+F8C1..U+F8C8; WHATWG leaves them unmapped"},
      {Encoding::windows_874,
       Peer::python,
       0,
       23,
       0,
       {},
       "Python's cp874 leaves the C1 bytes WHATWG maps to U+0080..U+009F unmapped"},
      {Encoding::windows_1250, Peer::python, 0, 5, 0, {}, "Python: undefined C1 bytes"},
      {Encoding::windows_1251, Peer::python, 0, 1, 0, {}, "Python: 0x98 undefined"},
      {Encoding::windows_1252,
       Peer::python,
       0,
       5,
       0,
       {},
       "Python: 0x81 0x8D 0x8F 0x90 0x9D undefined; WHATWG maps them to C1 controls"},
      {Encoding::windows_1253, Peer::icu, 0, 0, 1, {}, "ICU maps 0xAA to U+00AA"},
      {Encoding::windows_1253, Peer::python, 0, 14, 0, {}, "Python: undefined C1 bytes"},
      {Encoding::windows_1254, Peer::python, 0, 7, 0, {}, "Python: undefined C1 bytes"},
      {Encoding::windows_1255, Peer::icu, 0, 1, 0, {}, "ICU leaves 0xCA (U+05BA) unmapped"},
      {Encoding::windows_1255, Peer::python, 0, 13, 0, {}, "Python: undefined C1 bytes and 0xCA"},
      {Encoding::windows_1257, Peer::python, 0, 10, 0, {}, "Python: undefined C1 bytes"},
      {Encoding::windows_1258, Peer::python, 0, 9, 0, {}, "Python: undefined C1 bytes"},
      {Encoding::gbk,
       Peer::icu,
       101,
       42399,
       1,
       {{"4B ours F peer FaFa", 11001}},
       "ICU's GBK is windows-936-2000: no four-byte sequences, PUA where the standard "
       "has the 2022 code points, 0xFF -> U+F8F5"},
      {Encoding::gbk,
       Peer::python,
       0,
       44549,
       0,
       {{"4B ours F peer FaFa", 11001}},
       "Python's gbk: no four-byte sequences, no 0x80, no user-defined (PUA) areas"},
      {Encoding::gb18030,
       Peer::icu,
       19,
       1,
       0,
       {},
       "ICU 72 has the pre-2022 mappings (18 PUA code points, and A3A0 -> U+E5E5); "
       "rejects 0x80"},
      {Encoding::gb18030,
       Peer::python,
       21,
       1,
       0,
       {{"4B ours F peer FaF", 11001}},
       "Python: pre-2022 mappings, GB18030-2000's A8BC/81 35 F4 37 swap, rejects 0x80; "
       "resynchronises after the first byte of a bad four-byte sequence"},
      {Encoding::big5,
       Peer::icu,
       36,
       125,
       628,
       {{"2B ours Fa peer F", 144}},
       "ICU's Big5-HKSCS (ibm-1375) maps 0x81-0x86 leads and compatibility ideographs to "
       "PUA, lacks some HKSCS additions, and swallows an ASCII trail byte"},
      {Encoding::big5,
       Peer::python,
       11,
       192,
       0,
       {{"2B ours F peer FF", 792}},
       "Python's big5hkscs: Big5-2003 punctuation, older HKSCS, re-reads a bad trail byte"},
      {Encoding::euc_jp,
       Peer::icu,
       0,
       0,
       21,
       {},
       "ICU's euc-jp-2007 maps IBM extensions (8F F3 xx, 8F F4 xx) the standard rejects"},
      {Encoding::euc_jp,
       Peer::python,
       7,
       457,
       0,
       {{"2B ours F peer FF", 1500}, {"3B ours F peer FFF", 1648}, {"3B ours F peer Fc", 1121}},
       "Python's euc_jp is JIS, not Windows-31J-flavoured: no NEC row 13 / IBM extensions, "
       "U+301C etc. for A1C1...; re-reads bytes after an error"},
      {Encoding::iso_2022_jp,
       Peer::python,
       6,
       520,
       0,
       {},
       "Python's iso2022_jp: JIS X 0208 without the NEC/IBM rows, JIS-style mappings"},
      {Encoding::shift_jis,
       Peer::icu,
       0,
       1,
       0,
       {{"2B ours Fa peer F", 492}},
       "ICU's windows-31j rejects 0x80 (the standard: U+0080) and swallows an ASCII trail"},
      {Encoding::shift_jis,
       Peer::python,
       0,
       0,
       4,
       {{"2B ours F peer FF", 588}, {"2B ours F peer Fc", 596}},
       "Python's cp932 maps 0xA0, 0xFD-0xFF to PUA; re-reads a bad trail byte"},
      {Encoding::euc_kr,
       Peer::icu,
       0,
       0,
       188,
       {{"2B ours Fa peer F", 4206}},
       "ICU's windows-949 maps the user-defined rows (C9xx, FExx) to PUA; swallows an "
       "ASCII trail byte"},
      {Encoding::euc_kr,
       Peer::python,
       0,
       0,
       0,
       {{"2B ours F peer FF", 2560}},
       "Python's cp949 re-reads a bad non-ASCII trail byte"},
  };
  return table;
}

struct Case {
  Encoding encoding;
  Peer peer;
};

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  std::string n(name(info.param.encoding));
  for (char& c : n) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return n + "_" + peer_name(info.param.peer);
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (const Peers& p : kPeers) {
    if (p.icu) cases.push_back({p.encoding, Peer::icu});
    if (p.python) cases.push_back({p.encoding, Peer::python});
  }
  return cases;
}

const char* codec(const Case& c) {
  return c.peer == Peer::icu ? peers(c.encoding).icu : peers(c.encoding).python;
}

class Differential : public ::testing::TestWithParam<Case> {};

TEST_P(Differential, CharactersAgreeExceptTheDocumentedDeviations) {
  const Case k = GetParam();
  const CharacterComparison& c = compare_characters(k.encoding, k.peer);
  CharacterDeviations expected{k.encoding, k.peer, 0, 0, 0, {}, "no deviation"};
  for (const CharacterDeviations& d : character_deviations()) {
    if (d.encoding == k.encoding && d.peer == k.peer) expected = d;
  }
  std::map<std::string, std::size_t> shapes;
  for (const std::string& s : c.both_reject) {
    const auto& [o, p] = c.texts.at(s);
    const std::string so = shape(o), sp = shape(p);
    if (so != sp) shapes[std::to_string(s.size()) + "B ours " + so + " peer " + sp]++;
  }
  auto examples = [&](const std::vector<std::string>& list) {
    std::string out;
    for (std::size_t i = 0; i < list.size() && i < 5; ++i) {
      const auto& [o, p] = c.texts.at(list[i]);
      out += "\n  [" + hex(list[i]) + "] corun " + describe(o) + " peer " + describe(p);
    }
    return out;
  };
  SCOPED_TRACE(expected.why);
  EXPECT_GT(c.agreed.size(), 0u);
  EXPECT_EQ(c.mapping_differs.size(), expected.mapping_differs) << examples(c.mapping_differs);
  EXPECT_EQ(c.peer_rejects.size(), expected.peer_rejects) << examples(c.peer_rejects);
  EXPECT_EQ(c.peer_accepts.size(), expected.peer_accepts) << examples(c.peer_accepts);
  EXPECT_EQ(shapes, expected.reject_shapes);
}

// ---------------------------------------------------------------------------------------
// Step 2 assertions: streams.

// Peers whose replacement behaviour is the standard's for this encoding, so U+FFFD
// positions must be identical on invalid input too.
bool same_error_handling(const Case& k) {
  switch (k.encoding) {
    case Encoding::utf_8:     // maximal subparts: Unicode 3.9, ICU >= 60, CPython
    case Encoding::utf_16be:  // a lone surrogate or odd final byte is one U+FFFD
    case Encoding::utf_16le:
      return true;
    case Encoding::gb18030:  // ICU consumes whole bad sequences like the standard
    case Encoding::euc_jp:
      return k.peer == Peer::icu;
    case Encoding::iso_2022_jp:  // the generated errors are whole pieces for both
      return true;
    default:
      return k.encoding >= Encoding::ibm866 && k.encoding <= Encoding::x_mac_cyrillic;
  }
}

TEST_P(Differential, StreamsAgree) {
  const Case k = GetParam();
  const Encoding e = k.encoding;
  const CharacterComparison& c = compare_characters(e, k.peer);
  const std::vector<std::string> bad = invalid_pieces(e, c);
  std::mt19937 rng(static_cast<unsigned>(e) * 7919 + static_cast<unsigned>(k.peer));
  enum Kind { valid, valid_heavy, invalid_heavy, random };
  std::vector<std::string> inputs;
  std::vector<Kind> kinds;
  for (int i = 0; i < 8; ++i) {
    inputs.push_back(build_stream(e, c.agreed, {}, 0.0, 600, rng));
    kinds.push_back(valid);
    inputs.push_back(build_stream(e, c.agreed, bad, 0.05, 600, rng));
    kinds.push_back(valid_heavy);
    inputs.push_back(build_stream(e, c.agreed, bad, 0.5, 300, rng));
    kinds.push_back(invalid_heavy);
    inputs.push_back(random_bytes(800, rng));
    kinds.push_back(random);
  }
  std::vector<PyResult> py;
  if (k.peer == Peer::python) py = python(codec(k), inputs);
  const bool same_errors = same_error_handling(k);
  const bool random_comparable =
      e == Encoding::utf_8 || e == Encoding::utf_16be || e == Encoding::utf_16le;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::string o = ours(inputs[i], e);
    const long o_strict = ours_strict(inputs[i], e);
    std::string p;
    long p_strict = kOk;
    if (k.peer == Peer::icu) {
      p = icu(codec(k), inputs[i]);
      p_strict = icu_strict(codec(k), inputs[i]);
    } else {
      if (i >= py.size()) break;
      p = py[i].text;
      p_strict = py[i].strict;
    }
    SCOPED_TRACE("input " + std::to_string(i) + " kind " + std::to_string(kinds[i]));
    EXPECT_TRUE(is_valid_utf8(o));
    switch (kinds[i]) {
      case valid:
        EXPECT_EQ(o_strict, kOk);
        EXPECT_EQ(p_strict, kOk);
        EXPECT_EQ(o, p);
        break;
      case valid_heavy:
      case invalid_heavy:
        // The first error is where both say it is; the text after it agrees only where
        // the error handling is the standard's (see the shapes in step 1 otherwise).
        EXPECT_EQ(o_strict, p_strict);
        if (same_errors) {
          EXPECT_EQ(o, p);
        }
        break;
      case random:
        if (random_comparable) {
          EXPECT_EQ(o_strict, p_strict);
          EXPECT_EQ(o, p);
        }
        break;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Peers, Differential, ::testing::ValuesIn(all_cases()), case_name);

// ---------------------------------------------------------------------------------------
// glibc iconv: the strict offset is where iconv stops. Compared on GB18030 and UTF-8
// streams built from sequences ICU and corun agree on, with invalid pieces.

// Sequences both corun and iconv decode without error to the same text, and those
// where they differ, over the character sequences of step 1.
struct IconvComparison {
  std::vector<std::string> agreed;
  std::vector<std::string> iconv_rejects;    // the standard maps it, iconv stops
  std::vector<std::string> mapping_differs;  // both map it, to different text
  std::vector<std::string> iconv_accepts;    // iconv maps it, the standard says error
};

IconvComparison compare_with_iconv(Encoding e, const std::vector<std::string>& sequences) {
  IconvComparison c;
  for (const std::string& s : sequences) {
    std::string text;
    const bool iconv_ok = iconv_strict(peers(e).iconv, s, &text) == kOk;
    const bool ours_ok = ours_strict(s, e) == kOk;
    if (iconv_ok && ours_ok) {
      (text == ours(s, e) ? c.agreed : c.mapping_differs).push_back(s);
    } else if (ours_ok) {
      c.iconv_rejects.push_back(s);
    } else if (iconv_ok) {
      c.iconv_accepts.push_back(s);
    }
  }
  return c;
}

TEST(DifferentialIconv, StopsWhereStrictModeFails) {
  for (Encoding e : {Encoding::utf_8, Encoding::gb18030}) {
    const IconvComparison c = compare_with_iconv(e, character_sequences(e));
    // Invalid pieces iconv rejects as well (it accepts UTF-8 beyond U+10FFFF, below).
    std::vector<std::string> bad;
    for (const std::string& s : invalid_pieces(e, compare_characters(e, Peer::icu))) {
      if (iconv_strict(peers(e).iconv, s) != kOk && ours_strict(s, e) != kOk) bad.push_back(s);
    }
    ASSERT_FALSE(bad.empty());
    std::mt19937 rng(99);
    for (int i = 0; i < 20; ++i) {
      const std::string input = build_stream(e, c.agreed, bad, i % 2 ? 0.01 : 0.0, 800, rng);
      std::string iconv_text;
      const long stop = iconv_strict(peers(e).iconv, input, &iconv_text);
      EXPECT_EQ(stop, ours_strict(input, e)) << name(e) << " input " << i;
      if (stop == kOk) {
        EXPECT_EQ(iconv_text, ours(input, e)) << name(e) << " input " << i;
      }
    }
  }
}

// Deviation: glibc 2.36's GB18030 is the 2022 revision too (A6D9 -> U+FE10 like the
// standard), but it rejects 0x80 and the four-byte forms of the 18 code points that
// moved to two bytes (U+FE10..U+FE19, U+9FB4..U+9FBB; the standard keeps them as
// duplicates), maps FE51 FE52 FE53 FE6C FE76 FE91 to the CJK Extension B code points
// (the standard: PUA), and A3A0 to U+E5E5 (the standard: U+3000).
TEST(DifferentialIconv, DeviationGlibcGb18030) {
  const IconvComparison c =
      compare_with_iconv(Encoding::gb18030, character_sequences(Encoding::gb18030));
  std::set<std::string> rejects(c.iconv_rejects.begin(), c.iconv_rejects.end());
  EXPECT_EQ(rejects.size(), 19u);
  EXPECT_TRUE(rejects.count("\x80"));
  EXPECT_TRUE(rejects.count("\x84\x31\x82\x36"));  // U+FE10
  EXPECT_TRUE(rejects.count("\x82\x35\x90\x37"));  // U+9FB4
  std::set<std::string> differs(c.mapping_differs.begin(), c.mapping_differs.end());
  const std::set<std::string> expected = {"\xA3\xA0", "\xFE\x51", "\xFE\x52", "\xFE\x53",
                                          "\xFE\x6C", "\xFE\x76", "\xFE\x91"};
  EXPECT_EQ(differs, expected);
  std::string text;
  EXPECT_EQ(iconv_strict("GB18030", "\xFE\x51", &text), kOk);
  EXPECT_EQ(text, utf8(0x20087));
  EXPECT_EQ(ours("\xFE\x51", Encoding::gb18030), utf8(0xE816));
  EXPECT_TRUE(c.iconv_accepts.empty());
}

// Deviation: glibc's UTF-8 decoder accepts four-byte sequences beyond U+10FFFF.
TEST(DifferentialIconv, DeviationGlibcUtf8AcceptsBeyondU10FFFF) {
  const std::string beyond = "\xF4\x90\x80\x80";
  std::string text;
  EXPECT_EQ(iconv_strict("UTF-8", beyond, &text), kOk);
  EXPECT_EQ(text, beyond);
  EXPECT_EQ(ours_strict(beyond, Encoding::utf_8), 0);
  EXPECT_EQ(ours(beyond, Encoding::utf_8), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(icu("UTF-8", beyond), ours(beyond, Encoding::utf_8));
}

// Deviation: glibc iconv has no replacement mode: it stops at the first invalid byte
// (EILSEQ) and the caller gets the text before it only.
TEST(DifferentialIconv, DeviationIconvStopsAtTheFirstInvalidByte) {
  const std::string input =
      "abc\x81\x20"
      "def\xFF"
      "ghi";
  std::string text;
  EXPECT_EQ(iconv_strict("GB18030", input, &text), 3);
  EXPECT_EQ(text, "abc");
  EXPECT_EQ(ours(input, Encoding::gb18030), "abc\xEF\xBF\xBD def\xEF\xBF\xBDghi");
  EXPECT_EQ(ours_strict(input, Encoding::gb18030), 3);
}

// ---------------------------------------------------------------------------------------
// The deviations the issue names, one by one, with the code points.

// Index pointer of a GB18030 two-byte sequence (the standard's formula).
std::size_t gb18030_pointer(unsigned char lead, unsigned char trail) {
  const unsigned offset = trail < 0x7F ? 0x40 : 0x41;
  return (lead - 0x81u) * 190u + (trail - offset);
}

std::map<std::size_t, char32_t> read_index(const std::string& file) {
  std::map<std::size_t, char32_t> index;
  std::ifstream f(std::string(CORUN_WHATWG_DIR) + "/" + file);
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::size_t pointer = 0;
    std::string cp;
    fields >> pointer >> cp;
    index[pointer] = static_cast<char32_t>(std::stoul(cp, nullptr, 16));
  }
  return index;
}

// Deviation: ICU 72 and Python 3.11 decode GB18030 with the pre-2022 mappings. The
// 2022 revision (in the standard's index since 2024) gave 18 two-byte sequences their
// standard code points instead of PUA ones; the index also maps A3A0 to U+3000.
TEST(DifferentialDeviation, Gb18030Icu72AndPythonUsePre2022Mappings) {
  struct Row {
    std::string bytes;
    char32_t pre_2022;  // what ICU 72 and Python return
  };
  const Row rows[] = {
      {"\xA3\xA0", 0xE5E5}, {"\xA6\xD9", 0xE78D}, {"\xA6\xDA", 0xE78E}, {"\xA6\xDB", 0xE78F},
      {"\xA6\xDC", 0xE790}, {"\xA6\xDD", 0xE791}, {"\xA6\xDE", 0xE792}, {"\xA6\xDF", 0xE793},
      {"\xA6\xEC", 0xE794}, {"\xA6\xED", 0xE795}, {"\xA6\xF3", 0xE796}, {"\xFE\x59", 0xE81E},
      {"\xFE\x61", 0xE826}, {"\xFE\x66", 0xE82B}, {"\xFE\x67", 0xE82C}, {"\xFE\x6D", 0xE832},
      {"\xFE\x7E", 0xE843}, {"\xFE\x90", 0xE854}, {"\xFE\xA0", 0xE864},
  };
  const std::map<std::size_t, char32_t> index = read_index("index-gb18030.txt");
  std::vector<std::string> inputs;
  for (const Row& r : rows) inputs.push_back(r.bytes);
  inputs.push_back("\xA8\xBC");
  inputs.push_back("\x81\x35\xF4\x37");
  const std::vector<PyResult> py = python("gb18030", inputs);
  ASSERT_EQ(py.size(), inputs.size());
  for (std::size_t i = 0; i < std::size(rows); ++i) {
    const Row& r = rows[i];
    const auto lead = static_cast<unsigned char>(r.bytes[0]);
    const auto trail = static_cast<unsigned char>(r.bytes[1]);
    const char32_t standard = index.at(gb18030_pointer(lead, trail));
    EXPECT_FALSE(standard >= 0xE000 && standard <= 0xF8FF) << hex(r.bytes);  // not PUA
    EXPECT_EQ(ours(r.bytes, Encoding::gb18030), utf8(standard)) << hex(r.bytes);
    EXPECT_EQ(icu("GB18030", r.bytes), utf8(r.pre_2022)) << hex(r.bytes);
    EXPECT_EQ(py[i].text, utf8(r.pre_2022)) << hex(r.bytes);
  }
  // Python also keeps GB18030-2000's A8BC <-> U+E7C7 (2005 moved U+1E3F there).
  EXPECT_EQ(ours("\xA8\xBC", Encoding::gb18030), utf8(0x1E3F));
  EXPECT_EQ(icu("GB18030", "\xA8\xBC"), utf8(0x1E3F));
  EXPECT_EQ(py[std::size(rows)].text, utf8(0xE7C7));
  EXPECT_EQ(ours("\x81\x35\xF4\x37", Encoding::gb18030), utf8(0xE7C7));
  EXPECT_EQ(py[std::size(rows) + 1].text, utf8(0x1E3F));
}

// Deviation: ICU's "gb2312" converter is strict GB2312 (EUC-CN, ibm-1383); the standard
// resolves the label gb2312 to GBK, so pages labelled gb2312 with GBK characters decode.
// ICU decodes a GBK-only pair as a C1 control and an ASCII byte.
TEST(DifferentialDeviation, IcuGb2312IsAStrictCodec) {
  const std::string gbk_only = "\x81\x40";  // U+4E02, a GBK extension
  EXPECT_EQ(decode(gbk_only, "gb2312"), utf8(0x4E02));
  EXPECT_EQ(icu("gb2312", gbk_only), "\xC2\x81@");
  // Over every two-byte sequence the standard maps: strict GB2312 agrees on its own
  // ~7,500 characters and on nothing else.
  std::size_t agree = 0;
  std::size_t differ = 0;
  std::vector<std::string> pairs;
  add_pairs(pairs, 0x81, 0xFE, {{0x40, 0x7E}, {0x80, 0xFE}});
  for (const std::string& s : pairs) {
    if (ours_strict(s, Encoding::gbk) != kOk) continue;
    (ours(s, Encoding::gbk) == icu("gb2312", s) ? agree : differ)++;
  }
  EXPECT_GT(agree, 7000u);
  EXPECT_LT(agree, 8000u);
  EXPECT_GT(differ, 14000u);
}

// Deviation: Python's gbk (and gb18030) reject the single byte 0x80, which the standard
// decodes to U+20AC (Windows code page 936's euro sign); ICU's GB18030 rejects it too.
TEST(DifferentialDeviation, PythonGbkRejects0x80) {
  const std::vector<PyResult> gbk = python("gbk", {"a\x80"
                                                   "b"});
  ASSERT_EQ(gbk.size(), 1u);
  EXPECT_EQ(gbk[0].strict, 1);
  EXPECT_EQ(gbk[0].text,
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(ours("a\x80"
                 "b",
                 Encoding::gbk),
            "a\xE2\x82\xAC"
            "b");
  EXPECT_EQ(ours("a\x80"
                 "b",
                 Encoding::gb18030),
            "a\xE2\x82\xAC"
            "b");
  EXPECT_EQ(icu_strict("GB18030",
                       "a\x80"
                       "b"),
            1);
  EXPECT_EQ(icu_strict("GBK",
                       "a\x80"
                       "b"),
            kOk);  // windows-936-2000 has it
}

// Deviation: on an unmapped double-byte sequence whose second byte is ASCII, the
// standard emits U+FFFD and then the ASCII byte (so markup such as '<' or '"' is never
// eaten); ICU's Big5-HKSCS, windows-31j and windows-949 consume both bytes.
TEST(DifferentialDeviation, IcuSwallowsTheAsciiTrailOfAnUnmappedPair) {
  const struct {
    Encoding encoding;
    std::string bytes;
  } cases[] = {
      {Encoding::big5, "\xA0\x72"},
      {Encoding::shift_jis, "\xFC\x7E"},
      {Encoding::euc_kr, "\xFE\x7E"},
  };
  for (const auto& c : cases) {
    const std::string ascii(1, c.bytes[1]);
    EXPECT_EQ(ours(c.bytes, c.encoding), "\xEF\xBF\xBD" + ascii) << name(c.encoding);
    EXPECT_EQ(icu(peers(c.encoding).icu, c.bytes), "\xEF\xBF\xBD") << name(c.encoding);
  }
}

// Deviation: on an unmapped double-byte sequence whose second byte is not ASCII, the
// standard consumes both bytes (one U+FFFD); Python's CJK codecs consume the lead byte
// only and decode the second byte again.
TEST(DifferentialDeviation, PythonRereadsTheTrailByteOfAnUnmappedPair) {
  const struct {
    Encoding encoding;
    const char* codec;
    std::string bytes;
  } cases[] = {
      {Encoding::big5, "big5hkscs", "\xC8\xF4"},
      {Encoding::shift_jis, "cp932", "\xFC\xFC"},
      {Encoding::euc_kr, "cp949", "\xFE\xFE"},
      {Encoding::euc_jp, "euc_jp", "\xFE\xFE"},
  };
  for (const auto& c : cases) {
    const std::vector<PyResult> py = python(c.codec, {c.bytes});
    ASSERT_EQ(py.size(), 1u);
    EXPECT_EQ(ours(c.bytes, c.encoding), "\xEF\xBF\xBD") << name(c.encoding);
    EXPECT_EQ(py[0].text, "\xEF\xBF\xBD\xEF\xBF\xBD") << name(c.encoding);
  }
}

// Deviation: the standard's GBK decoder is the gb18030 decoder, four-byte sequences
// included; ICU's GBK and Python's gbk know only one and two bytes.
TEST(DifferentialDeviation, GbkPeersHaveNoFourByteSequences) {
  const std::string four = "\x81\x30\x81\x30";  // U+0080
  EXPECT_EQ(ours(four, Encoding::gbk), utf8(0x80));
  EXPECT_EQ(icu("GBK", four),
            "\xEF\xBF\xBD"
            "0\xEF\xBF\xBD"
            "0");
  const std::vector<PyResult> py = python("gbk", {four});
  ASSERT_EQ(py.size(), 1u);
  EXPECT_EQ(py[0].text,
            "\xEF\xBF\xBD"
            "0\xEF\xBF\xBD"
            "0");
}

// Deviation: Windows code pages as Python has them leave 0x81, 0x8D, 0x8F, 0x90, 0x9D
// of windows-1252 undefined; the standard maps them to the C1 controls (as ICU does).
TEST(DifferentialDeviation, PythonWindows1252LeavesFiveBytesUndefined) {
  const std::string bytes = "\x81\x8D\x8F\x90\x9D";
  const std::vector<PyResult> py = python("cp1252", {bytes});
  ASSERT_EQ(py.size(), 1u);
  EXPECT_EQ(py[0].strict, 0);
  EXPECT_EQ(ours(bytes, Encoding::windows_1252), "\xC2\x81\xC2\x8D\xC2\x8F\xC2\x90\xC2\x9D");
  EXPECT_EQ(icu("windows-1252", bytes), ours(bytes, Encoding::windows_1252));
}

// ---------------------------------------------------------------------------------------
// Step 3: real pages (tests/text/data/pages, made by data/make_pages.py).

TEST(DifferentialPages, RealPagesDecodeAlikeEverywhere) {
  const fs::path dir = source_dir() / "tests" / "text" / "data" / "pages";
  std::ifstream manifest(dir / "MANIFEST");
  ASSERT_TRUE(manifest.good()) << dir;
  std::string file, label, py_codec;
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> by_codec;
  while (manifest >> file >> label >> py_codec) {
    std::ifstream f(dir / file, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    by_codec[py_codec].emplace_back(label, ss.str());
  }
  std::size_t pages = 0;
  for (const auto& [py_codec_name, list] : by_codec) {
    std::vector<std::string> bytes;
    for (const auto& entry : list) bytes.push_back(entry.second);
    const std::vector<PyResult> py = python(py_codec_name, bytes);
    ASSERT_EQ(py.size(), list.size());
    for (std::size_t i = 0; i < list.size(); ++i) {
      const Encoding e = encoding_for_label(list[i].first);
      const std::string o = ours(list[i].second, e);
      SCOPED_TRACE(std::string(name(e)) + " page " + std::to_string(i));
      EXPECT_EQ(ours_strict(list[i].second, e), kOk);
      EXPECT_EQ(o, py[i].text);
      EXPECT_EQ(o, icu(peers(e).icu, list[i].second));
      ++pages;
    }
  }
  EXPECT_EQ(pages, 20u);
}

}  // namespace
}  // namespace corun::text
