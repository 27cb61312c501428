// The original Python scraper (the peer in bench/README.md's tables: aiohttp +
// asyncio.gather, pages decoded from GB18030 and saved as UTF-8 with a BOM)
// written with corun, as close to line for line as C++ allows. `corun fetch`
// is this program grown into a tool (limits, retries, a report, resume).
//
// usage: seed_scraper BASE_URL URLS_FILE OUT_DIR CONCURRENCY
//
//   async def get_info(url, session, out_path):
//       resp = await session.request(method="GET", url=url)
//       resp.raise_for_status()
//       html = await resp.text(encoding="GB18030")
//       with open(out_path, "w", encoding="utf-8-sig") as f:
//           f.write(html)
//       return len(html)
#include <fmt/format.h>

#include <corun/corun.hpp>
#include <corun/fs/file.hpp>
#include <corun/http/session.hpp>
#include <corun/text/utf8.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

// len(html): Python counts characters, not bytes.
std::size_t characters(const std::string& utf8) {
  std::size_t n = 0;
  for (char c : utf8) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

corun::Task<std::size_t> get_info(const std::string& url, corun::http::ClientSession& session,
                                  std::filesystem::path out_path) {
  corun::http::Response resp = co_await session.request("GET", url);
  resp.raise_for_status();
  std::string html = resp.text("GB18030", corun::text::Errors::strict);
  co_await corun::fs::write_file(std::move(out_path), corun::text::with_bom(html));
  co_return characters(html);
}

corun::Task<std::vector<std::size_t>> async_main(const std::vector<std::string>& urls,
                                                 const std::filesystem::path& out_dir,
                                                 std::size_t limit) {
  corun::http::SessionOptions connector;  // aiohttp.TCPConnector(limit=limit)
  connector.limit = limit;
  corun::http::ClientSession session(connector);  // async with ClientSession(...) as session:
  std::vector<corun::Task<std::size_t>> tasks;
  for (std::size_t i = 0; i < urls.size(); ++i) {
    tasks.push_back(get_info(urls[i], session, out_dir / fmt::format("{}.html", i)));
  }
  std::exception_ptr error;
  std::vector<std::size_t> sizes;
  try {
    sizes = co_await corun::gather(std::move(tasks));
  } catch (const std::exception&) {
    error = std::current_exception();
  }
  co_await session.close();  // the end of `async with`
  if (error) std::rethrow_exception(error);
  co_return sizes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s BASE_URL URLS_FILE OUT_DIR CONCURRENCY\n", argv[0]);
    return 2;
  }
  std::string base = argv[1];
  std::filesystem::path urls_file = argv[2], out_dir = argv[3];
  std::size_t limit = std::stoul(argv[4]);
  std::filesystem::create_directories(out_dir);  // os.makedirs(out_dir, exist_ok=True)
  std::vector<std::string>
      urls;  // [base + line.strip() for line in open(urls_file) if line.strip()]
  std::ifstream in(urls_file);
  for (std::string line; std::getline(in, line);) {
    auto b = line.find_first_not_of(" \t\r\n"), e = line.find_last_not_of(" \t\r\n");
    if (b != std::string::npos) urls.push_back(base + line.substr(b, e - b + 1));
  }
  std::vector<std::size_t> sizes = corun::run(async_main(urls, out_dir, limit));
  std::size_t total = 0;
  for (std::size_t s : sizes) total += s;
  std::printf("%zu pages, %zu characters\n", sizes.size(), total);
  return 0;
}
