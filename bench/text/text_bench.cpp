// Whole-run decoding benchmark: corun::text against glibc iconv and ICU (ucnv) on the
// same pages, in the same process, output UTF-8 for all three.
//
// usage: text_bench CORPUS_DIR [PAGES] [REPETITIONS] [ONLY]
//   CORPUS_DIR/p/N.html: make_corpus.py's GB18030 pages (meta charset=gb2312).
// Workloads (each page decoded separately, as a fetcher would):
//   gb18030       the corpus as gb18030        corun decode() | iconv GB18030 | ICU gb18030
//   gbk           the corpus as GBK (gb2312)   corun decode() | iconv GBK     | ICU GBK
//   ascii-1252    generated English HTML, windows-1252 (a few ’ é —)  iconv CP1252 | ICU
//   utf8-decode   the corpus re-encoded as UTF-8 (CJK), decode(UTF-8)  iconv | ICU
//   utf8-en       the English pages as UTF-8, decode(UTF-8)
//   utf8-valid    is_valid_utf8 over both UTF-8 sets; peers convert UTF-8 -> UTF-8
// Each cell is the median of REPETITIONS passes over all pages, the three contenders'
// passes interleaved; MB/s counts input bytes (10^6). Outputs of the three are compared once (where
// their mappings agree).
#include <iconv.h>
#include <unicode/ucnv.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "corun/text.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using corun::text::Encoding;
using Pages = std::vector<std::string>;

// ------------------------------------------------------------------------------------
// Peers. Both write UTF-8 into a buffer reused across pages.

class IconvDecoder {
 public:
  explicit IconvDecoder(const char* from) : cd_(iconv_open("UTF-8", from)) {
    if (cd_ == reinterpret_cast<iconv_t>(-1)) {
      std::fprintf(stderr, "iconv_open(%s) failed\n", from);
      std::exit(1);
    }
  }
  ~IconvDecoder() { iconv_close(cd_); }
  IconvDecoder(const IconvDecoder&) = delete;
  IconvDecoder& operator=(const IconvDecoder&) = delete;

  // Returns the UTF-8 length (stops at the first invalid byte, as iconv does).
  std::size_t decode(const std::string& in, std::string& out) {
    iconv(cd_, nullptr, nullptr, nullptr, nullptr);
    if (out.size() < in.size() * 4 + 16) out.resize(in.size() * 4 + 16);
    char* src = const_cast<char*>(in.data());
    std::size_t src_left = in.size();
    char* dst = out.data();
    std::size_t dst_left = out.size();
    iconv(cd_, &src, &src_left, &dst, &dst_left);
    return out.size() - dst_left;
  }

 private:
  iconv_t cd_;
};

class IcuDecoder {
 public:
  explicit IcuDecoder(const char* from) {
    UErrorCode err = U_ZERO_ERROR;
    from_ = ucnv_open(from, &err);
    to_ = ucnv_open("UTF-8", &err);
    if (U_FAILURE(err)) {
      std::fprintf(stderr, "ucnv_open(%s) failed: %s\n", from, u_errorName(err));
      std::exit(1);
    }
  }
  ~IcuDecoder() {
    ucnv_close(from_);
    ucnv_close(to_);
  }
  IcuDecoder(const IcuDecoder&) = delete;
  IcuDecoder& operator=(const IcuDecoder&) = delete;

  // bytes -> UTF-16 pivot -> UTF-8 in one call (ucnv_convertEx), substituting errors.
  std::size_t decode(const std::string& in, std::string& out) {
    if (out.size() < in.size() * 4 + 16) out.resize(in.size() * 4 + 16);
    UErrorCode err = U_ZERO_ERROR;
    char* dst = out.data();
    const char* src = in.data();
    ucnv_convertEx(to_, from_, &dst, out.data() + out.size(), &src, in.data() + in.size(), pivot_,
                   &pivot_source_, &pivot_target_, pivot_ + kPivot, true, true, &err);
    return static_cast<std::size_t>(dst - out.data());
  }

 private:
  static constexpr int kPivot = 4096;
  UConverter* from_ = nullptr;
  UConverter* to_ = nullptr;
  UChar pivot_[kPivot];
  UChar* pivot_source_ = pivot_;
  UChar* pivot_target_ = pivot_;
};

// ------------------------------------------------------------------------------------
// Inputs.

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// English HTML pages, ~12 KB each, ASCII but for a few windows-1252 punctuation marks
// and accented letters per paragraph.
Pages english_pages(std::size_t count) {
  static const char* const kWords[] = {
      "the",       "market",   "report", "shows",   "prices",    "for",    "new",     "homes",
      "in",        "the",      "city",   "rose",    "again",     "this",   "quarter", "while",
      "sales",     "of",       "older",  "flats",   "slowed",    "buyers", "say",     "that",
      "transport", "schools",  "and",    "parks",   "matter",    "most",   "when",    "they",
      "compare",   "listings", "across", "several", "districts", "agents", "expect",  "demand"};
  static const char* const kSpice[] = {"\x92", "\xE9", "\x97", "\x93", "\x94", "\xE8", "\x85"};
  std::mt19937 rng(42);
  std::uniform_int_distribution<std::size_t> word(0, std::size(kWords) - 1);
  std::uniform_int_distribution<std::size_t> spice(0, std::size(kSpice) - 1);
  std::uniform_int_distribution<int> coin(0, 39);
  Pages pages;
  for (std::size_t i = 0; i < count; ++i) {
    std::string p = "<!DOCTYPE html><html><head><meta charset=\"windows-1252\"><title>Listing " +
                    std::to_string(i) + "</title></head><body>\n";
    while (p.size() < 12000) {
      p += "<p>";
      for (int w = 0; w < 60; ++w) {
        p += kWords[word(rng)];
        if (coin(rng) == 0) p += kSpice[spice(rng)];
        p += ' ';
      }
      p += "</p>\n";
    }
    p += "</body></html>\n";
    pages.push_back(std::move(p));
  }
  return pages;
}

std::size_t total_bytes(const Pages& pages) {
  std::size_t n = 0;
  for (const std::string& p : pages) n += p.size();
  return n;
}

// ------------------------------------------------------------------------------------
// Timing.

double seconds(const std::function<void()>& pass) {
  const auto start = Clock::now();
  pass();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Medians of the three contenders' passes, interleaved (corun, iconv, ICU, corun, ...)
// so that a change in the machine's load hits all three alike.
std::array<double, 3> median_seconds(int repetitions,
                                     const std::array<std::function<void()>, 3>& passes) {
  for (const auto& pass : passes) pass();  // warm-up
  std::array<std::vector<double>, 3> times;
  for (int r = 0; r < repetitions; ++r) {
    for (std::size_t k = 0; k < passes.size(); ++k) times[k].push_back(seconds(passes[k]));
  }
  return {median(times[0]), median(times[1]), median(times[2])};
}

std::size_t g_sink = 0;  // keeps results alive (printed at the end)

struct Row {
  std::string workload;
  double megabytes;
  double corun;
  double iconv;
  double icu;
  std::string check;
};

Row measure(const std::string& workload, const Pages& pages, Encoding encoding,
            const char* iconv_name, const char* icu_name, int repetitions) {
  const double mb = static_cast<double>(total_bytes(pages)) / 1e6;
  IconvDecoder iconv_decoder(iconv_name);
  IcuDecoder icu_decoder(icu_name);
  std::string buffer;
  // Outputs compared once.
  std::size_t equal_iconv = 0, equal_icu = 0;
  for (const std::string& p : pages) {
    const std::string ours = corun::text::decode(p, encoding);
    const std::size_t a = iconv_decoder.decode(p, buffer);
    equal_iconv += buffer.compare(0, a, ours) == 0 && a == ours.size();
    const std::size_t b = icu_decoder.decode(p, buffer);
    equal_icu += buffer.compare(0, b, ours) == 0 && b == ours.size();
  }
  const auto [t_corun, t_iconv, t_icu] =
      median_seconds(repetitions, {[&] {
                                     for (const std::string& p : pages)
                                       g_sink += corun::text::decode(p, encoding).size();
                                   },
                                   [&] {
                                     for (const std::string& p : pages)
                                       g_sink += iconv_decoder.decode(p, buffer);
                                   },
                                   [&] {
                                     for (const std::string& p : pages)
                                       g_sink += icu_decoder.decode(p, buffer);
                                   }});
  char check[96];
  std::snprintf(check, sizeof check, "same text: iconv %zu/%zu, ICU %zu/%zu", equal_iconv,
                pages.size(), equal_icu, pages.size());
  return {workload, mb, mb / t_corun, mb / t_iconv, mb / t_icu, check};
}

Row measure_validation(const std::string& workload, const Pages& pages, int repetitions) {
  const double mb = static_cast<double>(total_bytes(pages)) / 1e6;
  IconvDecoder iconv_decoder("UTF-8");
  IcuDecoder icu_decoder("UTF-8");
  std::string buffer;
  std::size_t valid = 0;
  for (const std::string& p : pages) valid += corun::text::is_valid_utf8(p);
  const auto [t_corun, t_iconv, t_icu] =
      median_seconds(repetitions, {[&] {
                                     for (const std::string& p : pages)
                                       g_sink += corun::text::is_valid_utf8(p);
                                   },
                                   [&] {
                                     for (const std::string& p : pages)
                                       g_sink += iconv_decoder.decode(p, buffer);
                                   },
                                   [&] {
                                     for (const std::string& p : pages)
                                       g_sink += icu_decoder.decode(p, buffer);
                                   }});
  char check[96];
  std::snprintf(check, sizeof check, "valid: %zu/%zu (peers convert UTF-8 -> UTF-8)", valid,
                pages.size());
  return {workload, mb, mb / t_corun, mb / t_iconv, mb / t_icu, check};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR [PAGES] [REPETITIONS] [ONLY]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const std::size_t count = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 2000;
  const int repetitions = argc > 3 ? std::atoi(argv[3]) : 7;

  Pages gb_pages;
  for (std::size_t i = 0; i < count; ++i) {
    std::string p = read_file(dir + "/p/" + std::to_string(i) + ".html");
    if (p.empty()) break;
    gb_pages.push_back(std::move(p));
  }
  if (gb_pages.empty()) {
    std::fprintf(stderr, "no pages under %s/p/\n", dir.c_str());
    return 1;
  }
  const Pages en_pages = english_pages(gb_pages.size());
  Pages utf8_cjk, utf8_en;
  for (const std::string& p : gb_pages)
    utf8_cjk.push_back(corun::text::decode(p, Encoding::gb18030));
  for (const std::string& p : en_pages)
    utf8_en.push_back(corun::text::decode(p, Encoding::windows_1252));
  Pages utf8_all = utf8_cjk;
  utf8_all.insert(utf8_all.end(), utf8_en.begin(), utf8_en.end());

  // ONLY (optional 4th argument): run the workloads whose name contains it (callgrind).
  const std::string only = argc > 4 ? argv[4] : "";
  auto wanted = [&](const std::string& workload) {
    return only.empty() || workload.find(only) != std::string::npos;
  };
  std::vector<Row> rows;
  struct Workload {
    std::string name;
    const Pages* pages;
    Encoding encoding;
    const char* iconv_name;
    const char* icu_name;
  };
  const Workload workloads[] = {
      {"gb18030 (corpus)", &gb_pages, Encoding::gb18030, "GB18030", "GB18030"},
      {"GBK (corpus, label gb2312)", &gb_pages, Encoding::gbk, "GBK", "GBK"},
      {"windows-1252 (English, ASCII-heavy)", &en_pages, Encoding::windows_1252, "CP1252",
       "windows-1252"},
      {"UTF-8 decode (corpus as UTF-8, CJK)", &utf8_cjk, Encoding::utf_8, "UTF-8", "UTF-8"},
      {"UTF-8 decode (English)", &utf8_en, Encoding::utf_8, "UTF-8", "UTF-8"},
  };
  for (const Workload& w : workloads) {
    if (!wanted(w.name)) continue;
    rows.push_back(measure(w.name, *w.pages, w.encoding, w.iconv_name, w.icu_name, repetitions));
  }
  const std::string validation = "is_valid_utf8 (CJK + English UTF-8)";
  if (wanted(validation)) rows.push_back(measure_validation(validation, utf8_all, repetitions));

  std::printf("%zu pages per set, median of %d interleaved passes, MB/s of input (10^6 bytes)\n\n",
              gb_pages.size(), repetitions);
  std::printf(
      "| workload | input MB | corun MB/s | iconv MB/s | ICU MB/s | corun/iconv | "
      "corun/ICU | check |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---|\n");
  for (const Row& r : rows) {
    std::printf("| %s | %.1f | %.0f | %.0f | %.0f | %.2fx | %.2fx | %s |\n", r.workload.c_str(),
                r.megabytes, r.corun, r.iconv, r.icu, r.corun / r.iconv, r.corun / r.icu,
                r.check.c_str());
  }
  std::printf("\n(checksum %zu)\n", g_sink);
  return 0;
}
