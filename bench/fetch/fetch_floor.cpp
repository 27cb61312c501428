// The parts of `corun fetch`'s work per page, each measured alone, for
// bench/fetch/floor.sh: what a page costs at least, whoever does it.
//
//   fetch_floor http BASE_URL URLS_FILE CONC   every URL once with a bare libcurl
//       multi loop (CONC reused easy handles, curl_multi_poll, bodies discarded):
//       libcurl's own cost, nothing of corun's
//   fetch_floor files CORPUS_DIR OUT_DIR       every page of the corpus written
//       atomically, with a BOM, by corun::fs::write_file_sync (the engine's path),
//       from a reused buffer
//   fetch_floor decode CORPUS_DIR              every page decoded from GB18030 to
//       UTF-8 by corun::text (the engine's decoder)
// Each prints "PART cpu=SECONDS items=N" (user + system CPU of the work alone).
#include <curl/curl.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "corun/fs/file.hpp"
#include "corun/text/decode.hpp"
#include "corun/text/utf8.hpp"

namespace {

double cpu_seconds() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// The corpus's pages (urls.txt lists them as /p/N.html).
std::vector<std::string> pages_of(const std::filesystem::path& corpus) {
  std::vector<std::string> pages;
  for (const std::string& u : lines_of((corpus / "urls.txt").string())) {
    pages.push_back(corun::fs::read_file_sync(corpus / u.substr(1)));
  }
  return pages;
}

std::size_t discard(char*, std::size_t size, std::size_t n, void* total) {
  *static_cast<std::size_t*>(total) += size * n;
  return size * n;
}

int http(const std::string& base, const std::string& urls_file, long conc) {
  std::vector<std::string> urls;
  for (const std::string& p : lines_of(urls_file)) urls.push_back(base + p);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  double t0 = cpu_seconds();
  CURLM* multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, conc);
  std::size_t bytes = 0, next = 0, done = 0, failed = 0;
  auto start = [&](CURL* e) {
    curl_easy_setopt(e, CURLOPT_URL, urls[next++].c_str());
    curl_multi_add_handle(multi, e);
  };
  for (long i = 0; i < conc && next < urls.size(); ++i) {
    CURL* e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &bytes);
    start(e);
  }
  while (done < urls.size()) {
    int running = 0;
    curl_multi_perform(multi, &running);
    int queued = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &queued)) {
      if (m->msg != CURLMSG_DONE) continue;
      CURL* e = m->easy_handle;
      ++done;
      if (m->data.result != CURLE_OK) ++failed;
      curl_multi_remove_handle(multi, e);
      if (next < urls.size()) {
        start(e);
      } else {
        curl_easy_cleanup(e);
      }
    }
    if (done < urls.size()) curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
  }
  curl_multi_cleanup(multi);
  std::printf("http cpu=%.3f items=%zu bytes=%zu failed=%zu\n", cpu_seconds() - t0, done, bytes,
              failed);
  return failed == 0 ? 0 : 1;
}

int files(const std::filesystem::path& corpus, const std::filesystem::path& out) {
  std::vector<std::string> pages = pages_of(corpus);
  std::filesystem::create_directories(out);
  corun::fs::WriteOptions wo{.atomic = true, .fsync = false, .create_dirs = false};
  // Each page is written from one reused buffer, as a fetcher writes from the
  // buffers it reuses (here, a kernel copying from 10,000 distinct, cold user
  // buffers costs twice as much CPU as the write itself).
  std::string buffer;
  double t0 = cpu_seconds();
  for (std::size_t i = 0; i < pages.size(); ++i) {
    buffer.assign(pages[i]);
    corun::fs::write_file_sync(out / std::to_string(i), corun::text::utf8_bom, buffer, wo);
  }
  std::printf("files cpu=%.3f items=%zu\n", cpu_seconds() - t0, pages.size());
  return 0;
}

int decode(const std::filesystem::path& corpus) {
  std::vector<std::string> pages = pages_of(corpus);
  std::size_t out = 0;
  double t0 = cpu_seconds();
  for (const std::string& p : pages) {
    out += corun::text::decode(p, corun::text::Encoding::gb18030).size();
  }
  std::printf("decode cpu=%.3f items=%zu utf8_bytes=%zu\n", cpu_seconds() - t0, pages.size(), out);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() == 4 && a[0] == "http") return http(a[1], a[2], std::atol(a[3].c_str()));
  if (a.size() == 3 && a[0] == "files") return files(a[1], a[2]);
  if (a.size() == 2 && a[0] == "decode") return decode(a[1]);
  std::fprintf(stderr,
               "usage: fetch_floor http BASE_URL URLS_FILE CONC | files CORPUS_DIR OUT_DIR | "
               "decode CORPUS_DIR\n");
  return 2;
}
