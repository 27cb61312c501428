// The shared crawl around the workers: queue URLs, settings, the producer
// (enqueue), the report writer (collect) and status. See
// include/corun/fetch/queue.hpp and docs/scale-out.md.
#include "corun/fetch/queue.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <exception>
#include <random>

#include "corun/core/event.hpp"
#include "corun/core/loop.hpp"
#include "corun/core/time.hpp"
#include "corun/fetch/naming.hpp"
#include "corun/fetch/source.hpp"
#include "corun/redis/errors.hpp"
#include "corun/redis/pipeline.hpp"
#include "corun/redis/script.hpp"
#include "corun/redis/url.hpp"
#include "queue_common.hpp"
#include "queue_scripts.hpp"
#include "report.hpp"

namespace corun::fetch {

namespace queue_lua {
namespace {
const redis::Script& with_prelude(const char* body) {
  // One Script per body, built on first use (static storage: they outlive every call).
  static std::map<const char*, redis::Script> scripts;
  auto it = scripts.find(body);
  if (it == scripts.end()) {
    it = scripts.emplace(body, redis::Script(std::string(kPrelude) + body)).first;
  }
  return it->second;
}
}  // namespace
const redis::Script& add_script() {
  return with_prelude(kAdd);
}
const redis::Script& producer_join_script() {
  return with_prelude(kProducerJoin);
}
const redis::Script& producer_done_script() {
  return with_prelude(kProducerDone);
}
const redis::Script& collector_claim_script() {
  return with_prelude(kCollectorClaim);
}
const redis::Script& collector_release_script() {
  return with_prelude(kCollectorRelease);
}
const redis::Script& collector_store_script() {
  return with_prelude(kCollectorStore);
}
const redis::Script& claim_script() {
  return with_prelude(kClaim);
}
const redis::Script& renew_script() {
  return with_prelude(kRenew);
}
const redis::Script& complete_script() {
  return with_prelude(kComplete);
}
const redis::Script& defer_script() {
  return with_prelude(kDefer);
}
const redis::Script& confirm_script() {
  return with_prelude(kConfirm);
}
const redis::Script& leave_script() {
  return with_prelude(kLeave);
}
}  // namespace queue_lua

namespace {

bool valid_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

[[noreturn]] void bad_queue_url(std::string_view url, std::string_view why) {
  throw QueueUrlError(
      fmt::format("invalid queue URL '{}': {}; expected {}", url, why, kQueueUrlForm));
}

std::uint64_t to_u64(const std::string& s, std::uint64_t fallback = 0) {
  std::uint64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() ? v : fallback;
}

std::uint64_t field_u64(const std::map<std::string, std::string>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? 0 : to_u64(it->second);
}

}  // namespace

QueueAddress parse_queue_url(std::string_view url) {
  if (url.substr(0, 8) != "redis://") bad_queue_url(url, "the scheme must be redis://");
  auto slash = url.rfind('/');
  if (slash < 8) bad_queue_url(url, "no crawl NAME after the server");
  std::string_view name = url.substr(slash + 1);
  std::string_view server = url.substr(0, slash);
  if (name.empty()) bad_queue_url(url, "the crawl NAME is empty");
  if (name.size() > 100) bad_queue_url(url, "the crawl NAME is longer than 100 characters");
  if (!std::all_of(name.begin(), name.end(), valid_name_char)) {
    bad_queue_url(url, "the crawl NAME may hold only letters, digits, '-', '_' and '.'");
  }
  // redis://host:port/NAME: the last segment is the name; what is left is the
  // server part (which may end with /db).
  if (server.size() <= 8) bad_queue_url(url, "no server");
  // redis://host:port/5 reads to a redis-py user as database 5: a crawl named
  // "5" in database 0 would be a surprise. With the database given, it is clear.
  bool numeric = std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (numeric && server.find('/', 8) == std::string_view::npos) {
    bad_queue_url(url, fmt::format("the crawl NAME '{}' is a number, which reads as a database: "
                                   "for database {} give redis://host:port/{}/NAME, or name the "
                                   "crawl with a letter in it",
                                   name, name, name));
  }
  try {
    (void)redis::parse_url(server);
  } catch (const redis::InvalidURL& e) {
    bad_queue_url(url, e.what());
  }
  QueueAddress a;
  a.redis_url = std::string(server);
  a.name = std::string(name);
  return a;
}

std::string QueueAddress::to_string() const {
  std::string shown = redis_url;
  try {
    shown = redis::parse_url(redis_url).to_string();
  } catch (const redis::Error&) {
    // Keep the text as given (parse_queue_url checked it already).
  }
  return shown + "/" + name;
}

QueueSettings QueueSettings::from_options(const Options& o) {
  QueueSettings s;
  s.limit_per_host = o.limit_per_host;
  s.rate = o.rate;
  s.retries = o.retries;
  s.retry_delay = o.retry_delay;
  s.retry_max_delay = o.retry_max_delay;
  s.encoding = o.encoding;
  s.name_template = o.name_template;
  s.bom = o.bom;
  s.raw = o.raw;
  return s;
}

void QueueSettings::apply_to(Options& o) const {
  o.limit_per_host = limit_per_host;
  o.rate = rate;
  o.retries = retries;
  o.retry_delay = retry_delay;
  o.retry_max_delay = retry_max_delay;
  o.encoding = encoding;
  o.name_template = name_template;
  o.bom = bom;
  o.raw = raw;
}

UrlFingerprint fingerprint(std::string_view url, std::uint32_t buckets) {
  std::string hex = redis::detail::sha1_hex(url);
  std::uint64_t high = 0;
  std::uint32_t low = 0;
  std::from_chars(hex.data(), hex.data() + 16, high, 16);
  std::from_chars(hex.data() + 16, hex.data() + 24, low, 16);
  UrlFingerprint f;
  f.value = std::max<std::uint64_t>(high >> 2, 1);  // 62 bits: -value is an int64 too
  f.bucket = buckets == 0 ? 0 : low % buckets;
  return f;
}

namespace queue_detail {

Task<redis::Connection> open(const QueueAddress& address, redis::ConnectOptions options) {
  try {
    Task<redis::Connection> connecting = redis::connect(address.redis_url, std::move(options));
    redis::Connection conn = co_await connecting;
    co_return conn;
  } catch (const redis::Error& e) {
    throw QueueError(fmt::format("queue {}: {}", address.to_string(), e.what()));
  }
}

Task<void> check_types(redis::Connection& conn, const QueueAddress& address) {
  static const std::pair<const char*, const char*> kKinds[] = {
      {"meta", "hash"},   {"work", "stream"},    {"delay", "zset"},      {"results", "stream"},
      {"stats", "hash"},  {"hostq", "hash"},     {"next", "hash"},       {"workers", "hash"},
      {"inputs", "hash"}, {"producers", "zset"}, {"collector", "string"}};
  redis::Pipeline p = conn.pipeline();
  for (const auto& [key, kind] : kKinds) p.command("TYPE", address.prefix() + key);
  std::vector<redis::Reply> types;
  try {
    Task<std::vector<redis::Reply>> running = p.execute();
    types = co_await running;
  } catch (const redis::Error& e) {
    throw QueueError(fmt::format("queue {}: {}", address.to_string(), e.what()));
  }
  for (std::size_t i = 0; i < types.size(); ++i) {
    const std::string& t = types[i].as_string();
    if (t != "none" && t != kKinds[i].second) {
      throw QueueError(
          fmt::format("queue {}: key {}{} holds a {}, not a {}: the name is used by something else",
                      address.to_string(), address.prefix(), kKinds[i].first, t, kKinds[i].second));
    }
  }
}

std::map<std::string, std::string> as_map(const redis::Reply& reply) {
  std::map<std::string, std::string> m;
  if (!reply.is_array()) return m;
  const auto& a = reply.as_array();
  for (std::size_t i = 0; i + 1 < a.size(); i += 2) m[a[i].as_string()] = a[i + 1].as_string();
  return m;
}

QueueSettings settings_from_meta(const std::map<std::string, std::string>& meta) {
  QueueSettings s;
  auto get = [&](const char* key) -> const std::string* {
    auto it = meta.find(key);
    return it == meta.end() ? nullptr : &it->second;
  };
  auto number = [&](const char* key, double fallback) {
    const std::string* v = get(key);
    if (v == nullptr) return fallback;
    try {
      return std::stod(*v);
    } catch (const std::exception&) {
      return fallback;
    }
  };
  // (The key keeps the member's old name: see QueueSettings::limit_per_host.)
  s.limit_per_host = static_cast<std::size_t>(number("per_host", 0));
  s.rate = number("rate", 0);
  s.retries = static_cast<int>(number("retries", 3));
  s.retry_delay = Seconds(number("retry_delay", 0.5));
  s.retry_max_delay = Seconds(number("retry_max_delay", 30));
  if (const std::string* v = get("encoding")) s.encoding = *v;
  if (const std::string* v = get("name_template")) s.name_template = *v;
  s.bom = number("bom", 1) != 0;
  s.raw = number("raw", 0) != 0;
  s.max_deliveries = static_cast<int>(number("max_deliveries", 5));
  s.lease = std::chrono::milliseconds(static_cast<long long>(number("lease_ms", 60000)));
  s.buckets = static_cast<std::uint32_t>(number("buckets", 65536));
  return s;
}

std::vector<std::string> settings_to_fields(const QueueSettings& s) {
  // "per_host", not "limit_per_host": the key crawls stored by earlier versions
  // have, and the one the Lua scripts read (queue_scripts.hpp).
  return {"per_host",
          std::to_string(s.limit_per_host),
          "rate",
          fmt::format("{}", s.rate),
          "retries",
          std::to_string(s.retries),
          "retry_delay",
          fmt::format("{}", s.retry_delay.count()),
          "retry_max_delay",
          fmt::format("{}", s.retry_max_delay.count()),
          "encoding",
          s.encoding,
          "name_template",
          s.name_template,
          "bom",
          s.bom ? "1" : "0",
          "raw",
          s.raw ? "1" : "0",
          "max_deliveries",
          std::to_string(s.max_deliveries),
          "lease_ms",
          std::to_string(s.lease.count())};
}

bool is_crawl_gone(const std::exception& e) noexcept {
  return dynamic_cast<const redis::ResponseError*>(&e) != nullptr &&
         std::string_view(e.what()).starts_with("NOCRAWL");
}

QueueError crawl_gone(const QueueAddress& address) {
  return QueueError(fmt::format(
      "queue {}: the crawl is gone from the server (its keys were deleted, or Redis restarted "
      "without its data: give it appendonly yes); run the producer again to start it anew",
      address.to_string()));
}

std::string new_crawl_id() {
  std::random_device device;
  std::uint64_t id = (static_cast<std::uint64_t>(device()) << 32) ^ device();
  return fmt::format("{:016x}", id);
}

std::string script_prefix(const QueueAddress& address,
                          const std::map<std::string, std::string>& meta) {
  auto it = meta.find("crawl_id");
  if (it == meta.end() || it->second.empty()) return address.prefix();
  return it->second + "|" + address.prefix();
}

std::string host_of(const std::string& url) {
  UrlParts parts;
  std::string error;
  if (!parse_url(url, parts, error)) return {};
  return host_key(parts);
}

}  // namespace queue_detail

using namespace queue_detail;

Task<QueueSettings> read_queue_settings(QueueAddress address) {
  Task<redis::Connection> opening = open(address, {});
  redis::Connection conn = co_await opening;
  Task<void> checking = check_types(conn, address);
  co_await checking;
  Task<redis::Reply> reading = conn.command("HGETALL", address.prefix() + "meta");
  redis::Reply meta = co_await reading;
  auto m = as_map(meta);
  if (m.find("buckets") == m.end()) {
    throw QueueError(
        fmt::format("queue {}: no crawl of that name on the server (start the "
                    "producer first: corun fetch --queue URL/NAME --enqueue FILE)",
                    address.to_string()));
  }
  co_return settings_from_meta(m);
}

// ---- producer ----

namespace {

Task<void> wait_below_high_water(redis::Connection& conn, const QueueAddress& address,
                                 std::size_t high_water) {
  auto pause = std::chrono::milliseconds(50);
  for (;;) {
    Task<redis::Reply> len = conn.command("XLEN", address.prefix() + "work");
    redis::Reply n = co_await len;
    if (static_cast<std::uint64_t>(n.as_integer()) <= high_water) co_return;
    co_await sleep(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(1000));
  }
}

}  // namespace

namespace {

// How long a producer's registration lasts unless renewed (it renews every
// third of it while reading, and with each batch it adds).
constexpr std::chrono::milliseconds kProducerTtl{kProducerRegistration};

// After this long, a batch not yet full is added all the same.
constexpr std::chrono::milliseconds kPartialBatchAfter{1000};

// The arguments of an add step before its lines: P, input, position,
// producer, ttl.
constexpr std::size_t kAddHeader = 5;

// A script step that runs to its end even when the awaiting task is cancelled
// meanwhile: Redis may have run it already, and the counts a run gives ("N URLs
// added", "N records written") must say so. `cancelled` tells the caller, who
// honours the cancellation once it has the reply; a second cancellation gives
// the step up (CancelledError).
Task<redis::Reply> to_its_end(Task<redis::Reply> step, const char* name, bool& cancelled) {
  TaskHandle<redis::Reply> running = create_task(std::move(step), name);
  try {
    Task<redis::Reply> waiting = shield(running);
    co_return co_await waiting;
  } catch (const CancelledError&) {
    cancelled = true;
  }
  co_return co_await running;
}

// One add step (queue_scripts.hpp's add), its counts into result; once done,
// args keeps only its header (the batch is not to be added again).
// shielded: run to its end (to_its_end) when a Ctrl-C comes meanwhile, then
// the Ctrl-C is raised; a second one gives the step up (its lines are dropped:
// in the crawl or not, they are not added again here). Not shielded (the add
// after a Ctrl-C): a Ctrl-C gives it up.
Task<void> add_batch(redis::Connection& conn, std::vector<std::string>& args, EnqueueResult& result,
                     bool shielded = true) {
  Task<redis::Reply> adding = queue_lua::add_script()(conn, {}, args);
  bool cancelled = false;
  redis::Reply added;
  if (shielded) {
    Task<redis::Reply> waiting = to_its_end(std::move(adding), "producer add", cancelled);
    try {
      added = co_await waiting;
    } catch (const CancelledError&) {
      args.resize(kAddHeader);  // interrupted twice: given up
      throw;
    }
  } else {
    added = co_await adding;
  }
  result.added += static_cast<std::uint64_t>(added[0].as_integer());
  result.duplicates += static_cast<std::uint64_t>(added[1].as_integer());
  args.resize(kAddHeader);
  if (cancelled) throw CancelledError();
}

// A batch as the reading goes (full, or kPartialBatchAfter old): once the
// crawl is below --high-water, added with the input position it reaches.
Task<void> add_full_batch(redis::Connection& conn, const QueueAddress& address,
                          const EnqueueOptions& options, std::vector<std::string>& args,
                          std::uint64_t line_no, EnqueueResult& result) {
  Task<void> waiting = wait_below_high_water(conn, address, options.high_water);
  co_await waiting;
  args[2] = std::to_string(line_no);
  Task<void> adding = add_batch(conn, args, result);
  co_await adding;
  if (options.on_progress) options.on_progress(line_no, result.added);
}

Task<void> wait_event(Event* e) {
  co_await e->wait();
}

// Renews the producer's registration until `done` is set (a renewal that fails
// is tried again at the next beat; the registration lapses if none gets through).
Task<void> producer_heartbeat(redis::Connection* conn, std::string P, std::string producer,
                              Event* done) {
  const std::string ttl = std::to_string(kProducerTtl.count());
  for (;;) {
    try {
      Task<void> waiting = wait_for(wait_event(done), kProducerTtl / 3);
      co_await waiting;
      co_return;
    } catch (const corun::TimeoutError&) {
      // time to renew
    }
    try {
      Task<redis::Reply> renewing =
          queue_lua::producer_join_script()(*conn, {}, {P, producer, ttl});
      co_await renewing;
    } catch (const redis::Error&) {
      // Redis away for now: the next beat tries again.
    } catch (const corun::TimeoutError&) {
    }
  }
}

// The name a producer's input position is stored under. A file: its absolute
// path and a hash of its first 64 KiB, so running again on the same file (or
// on it grown by appending) skips what was added, while another file written
// to the same path starts from its first line. Standard input has nothing to
// resume by, nor has a pipe or a FIFO given by path: each run gets a name of
// its own and reads everything (the dedup sets keep any URL from being added
// twice), so piping more URLs into a crawl later never skips lines.
std::string input_identity(const std::filesystem::path& input) {
  auto fresh = [&input] {
    return fmt::format("{}:{}:{:x}", input.string(), ::getpid(),
                       std::chrono::system_clock::now().time_since_epoch().count());
  };
  if (input == "-") return fresh();
  std::string name = std::filesystem::absolute(input).lexically_normal().string();
  // Only a regular file is read here: the head of a pipe (`<(cmd)`, a FIFO,
  // /dev/stdin) would be consumed and lost to the producer. Those, like
  // stdin, have nothing to resume by.
  struct stat st {};
  if (::stat(input.c_str(), &st) != 0) return name;  // FileSource reports the error
  if (!S_ISREG(st.st_mode)) return fresh();
  int fd = ::open(input.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return name;
  std::string head(std::size_t{64} * 1024, '\0');
  std::size_t got = 0;
  while (got < head.size()) {
    ssize_t n = ::read(fd, head.data() + got, head.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  head.resize(got);
  return name + "#" + redis::detail::sha1_hex(head).substr(0, 16);
}

}  // namespace

Task<EnqueueResult> enqueue(QueueAddress address, UrlSource& source, std::string input_name,
                            EnqueueOptions options) {
  if (options.settings.name_template.empty()) {
    options.settings.name_template = std::string(kQueueNameTemplate);
  }
  const std::string& tmpl = options.settings.name_template;
  if (tmpl.find("{hash}") == std::string::npos && tmpl.find("{index}") == std::string::npos) {
    throw OptionsError("name_template",
                       fmt::format("--name '{}': in a shared crawl every URL's file name must be "
                                   "unique across machines: include {{hash}} or {{index}}",
                                   tmpl));
  }
  Task<redis::Connection> opening = open(address, {});
  redis::Connection conn = co_await opening;
  Task<void> checking = check_types(conn, address);
  co_await checking;
  const std::string P = address.prefix();
  std::string S;  // the scripts' first argument (script_prefix), once the crawl is joined
  // Create (or join) the crawl: the bucket count and the settings are fixed
  // by the producer that creates it (unless replace_settings).
  {
    Task<redis::Reply> probing = conn.command("HEXISTS", P + "meta", "buckets");
    redis::Reply exists = co_await probing;
    bool store = exists.as_integer() == 0 || options.replace_settings;
    redis::Pipeline p = conn.pipeline();
    p.command("HSETNX", P + "meta", "buckets", std::to_string(options.settings.buckets));
    p.command("HSETNX", P + "meta", "crawl_id", new_crawl_id());
    std::vector<std::string> hset{"HSET", P + "meta"};
    if (store) {
      for (auto& f : settings_to_fields(options.settings)) hset.push_back(std::move(f));
    }
    if (hset.size() > 2) p.command_argv(std::move(hset));
    p.command("XGROUP", "CREATE", P + "work", queue_lua::kGroup, "0", "MKSTREAM");
    p.command("HGETALL", P + "meta");
    p.command("HGET", P + "inputs", input_name);
    Task<std::vector<redis::Reply>> running = p.execute(false);
    std::vector<redis::Reply> r = co_await running;
    const std::size_t group = r.size() - 3;  // the XGROUP reply (HSET comes before it or not)
    for (std::size_t i = 0; i < group; ++i) {
      if (r[i].is_error()) {
        throw QueueError(fmt::format("queue {}: {}", address.to_string(), r[i].as_error()));
      }
    }
    if (r[group].is_error() && r[group].as_error().rfind("BUSYGROUP", 0) != 0) {
      throw QueueError(fmt::format("queue {}: {}", address.to_string(), r[group].as_error()));
    }
    auto meta = as_map(r[group + 1]);
    S = script_prefix(address, meta);
    options.settings.buckets = static_cast<std::uint32_t>(field_u64(meta, "buckets"));
    EnqueueResult result;
    result.stored_settings = store;
    result.settings = settings_from_meta(meta);
    // This input's position: how many of its lines an earlier run added.
    std::uint64_t skip = r[group + 2].is_nil() ? 0 : to_u64(r[group + 2].as_string());
    // Registered as reading: the crawl's input is not done until every
    // producer reading has finished (another one may be running now).
    // Registered under its input's name: a run resuming a killed one's input
    // takes over its registration.
    const std::string& producer = input_name;
    const std::string ttl = std::to_string(kProducerTtl.count());
    Task<redis::Reply> joining = queue_lua::producer_join_script()(conn, {}, {S, producer, ttl});
    co_await joining;
    // The renewals run beside the reading (which may wait long on a pipe or
    // on --high-water); they end before this frame does, with or without an
    // error (`failed`).
    Event finished_reading;
    TaskHandle<void> beating =
        create_task(producer_heartbeat(&conn, S, producer, &finished_reading), "queue-producer");
    std::exception_ptr failed;
    std::uint64_t line_no = 0;
    std::vector<std::string> args;
    std::size_t in_batch = 0;
    // A batch goes to Redis when full, or once it is kPartialBatchAfter old
    // (a slow pipe's lines are not held back until 500 have come).
    auto batch_started = std::chrono::steady_clock::now();
    auto start_batch = [&] {
      args.assign({S, input_name, "", producer, ttl});  // kAddHeader of them
      in_batch = 0;
      batch_started = std::chrono::steady_clock::now();
    };
    start_batch();
    std::vector<std::string> lines;
    InputLine parsed;
    bool more = true;
    try {
      while (more) {
        lines.clear();
        Task<bool> reading = source.next_batch(lines);
        more = co_await reading;
        for (const std::string& raw : lines) {
          ++line_no;
          ++result.lines;
          if (line_no <= skip) {
            ++result.resumed;
            continue;
          }
          if (!parse_input_line(raw, options.base_url, parsed)) continue;
          UrlFingerprint f = fingerprint(parsed.url, options.settings.buckets);
          args.push_back(parsed.url);
          args.push_back(parsed.label);
          args.push_back(host_of(parsed.url));
          args.push_back(std::to_string(f.bucket));
          args.push_back(std::to_string(f.value));
          ++in_batch;
          if (in_batch >= options.batch) {
            Task<void> adding = add_full_batch(conn, address, options, args, line_no, result);
            co_await adding;
            start_batch();
          }
        }
        if (in_batch > 0 &&
            std::chrono::steady_clock::now() - batch_started >= kPartialBatchAfter) {
          Task<void> adding = add_full_batch(conn, address, options, args, line_no, result);
          co_await adding;
          start_batch();
        }
      }
      if (line_no > skip || in_batch > 0) {
        args[2] = std::to_string(std::max(line_no, skip));
        Task<void> adding = add_batch(conn, args, result);
        co_await adding;
      }
    } catch (...) {
      failed = std::current_exception();
    }
    // Interrupted (Ctrl-C): the lines read so far are added before it ends, so
    // a pipe's lines, which no later run can read again, are not lost.
    bool interrupted = false;
    try {
      if (failed) std::rethrow_exception(failed);
    } catch (const CancelledError&) {
      interrupted = true;
    } catch (...) {
      // (handled below)
    }
    if (interrupted) {
      if (args.size() > kAddHeader) {
        args[2] = std::to_string(std::max(line_no, skip));
        try {
          Task<void> adding = add_batch(conn, args, result, false);
          co_await adding;
        } catch (...) {
          // Redis away too (a file's run resumes from the last stored position),
          // or interrupted again (CancelledError): given up, and on to ending
          // the renewals, which must not outlive this frame (they use conn and
          // finished_reading).
        }
      }
      // (Also when the Ctrl-C came during an add, which ran to its end.)
      if (options.on_progress) options.on_progress(line_no, result.added);
    }
    finished_reading.set();
    try {
      co_await beating;
    } catch (const std::exception&) {
      // (cancelled with the run: nothing to renew any more)
    }
    // Failed mid-input: still registered, so the crawl's input stays not done
    // until the registration lapses (run it again to resume).
    try {
      if (failed) std::rethrow_exception(failed);
    } catch (const redis::ResponseError& e) {
      if (is_crawl_gone(e)) throw crawl_gone(address);
      throw;
    }
    try {
      Task<redis::Reply> marking = queue_lua::producer_done_script()(conn, {}, {S, producer});
      redis::Reply others = co_await marking;
      result.other_producers = static_cast<std::uint64_t>(others.as_integer());
    } catch (const redis::ResponseError& e) {
      if (is_crawl_gone(e)) throw crawl_gone(address);
      throw;
    }
    if (options.on_progress) options.on_progress(line_no, result.added);
    co_return result;
  }
}

Task<EnqueueResult> enqueue(QueueAddress address, std::filesystem::path input,
                            EnqueueOptions options) {
  FileSource source(input);
  std::string name = input_identity(input);
  Task<EnqueueResult> running = enqueue(address, source, std::move(name), std::move(options));
  EnqueueResult r = co_await running;
  co_return r;
}

// ---- collect ----

namespace {

struct ReportFile {
  int fd = -1;
  ~ReportFile() {
    if (fd >= 0) ::close(fd);
  }
};

[[noreturn]] void report_failed(const std::filesystem::path& path, const char* what) {
  throw SetupError(fmt::format("report {}: {}: {}", path.string(), what, std::strerror(errno)));
}

void write_all(int fd, const std::string& data, const std::filesystem::path& path) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      report_failed(path, "cannot write");
    }
    done += static_cast<std::size_t>(n);
  }
}

// How long a collector's claim lasts unless renewed (every third of it while
// idle, and with each batch stored).
constexpr std::chrono::milliseconds kCollectorTtl{10000};
// How long the collector's read waits for Redis before it says Redis is away
// (and goes on waiting).
constexpr std::chrono::seconds kCollectorPatience{5};

std::string collector_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::random_device rd;
  return fmt::format("{}:{}:{:04x}", host, ::getpid(), rd() & 0xffffU);
}

QueueError another_collector(const QueueAddress& address, const std::string& holder) {
  return QueueError(fmt::format(
      "queue {}: another collector ({}) is writing this crawl's report: one collector per crawl "
      "(one killed lets go within {} s)",
      address.to_string(), holder,
      std::chrono::duration_cast<std::chrono::seconds>(kCollectorTtl).count()));
}

// Throws QueueError when the crawl is gone (a collector would wait forever).
// With the collector's patience, as its polls: a stall starting between the
// two is said as soon.
Task<bool> crawl_finished(redis::Connection& conn, const QueueAddress& address) {
  const std::string P = address.prefix();
  redis::Pipeline p = conn.pipeline();
  p.command("HGET", P + "meta", "input_done")
      .command("XLEN", P + "work")
      .command("ZCARD", P + "delay")
      .command("XLEN", P + "results")
      .command("HEXISTS", P + "meta", "buckets");
  Task<std::vector<redis::Reply>> running = p.execute(true, kCollectorPatience);
  std::vector<redis::Reply> r = co_await running;
  if (r[4].as_integer() == 0) throw crawl_gone(address);
  co_return r[0].as_optional_string() == std::optional<std::string>("1") &&
      r[1].as_integer() == 0 && r[2].as_integer() == 0 && r[3].as_integer() == 0;
}

}  // namespace

Task<CollectResult> collect(QueueAddress address, std::filesystem::path report,
                            CollectOptions options) {
  Task<redis::Connection> opening = open(address, {});
  redis::Connection conn = co_await opening;
  Task<void> checking = check_types(conn, address);
  co_await checking;
  const std::string P = address.prefix();
  Task<redis::Reply> reading = conn.command("HMGET", P + "meta", "buckets", "crawl_id");
  redis::Reply meta = co_await reading;
  if (meta[0].is_nil()) {
    throw QueueError(
        fmt::format("queue {}: no crawl of that name on the server", address.to_string()));
  }
  // The scripts' first argument: a crawl made anew under this name since is
  // refused as gone.
  std::map<std::string, std::string> joined;
  if (!meta[1].is_nil()) joined.emplace("crawl_id", meta[1].as_string());
  const std::string S = script_prefix(address, joined);
  // The report's lock first (nothing of it is cut before the claim below):
  // another crawl's collector, or a corun fetch, may be writing that file.
  // A report this run creates is removed again if the run is refused before
  // it writes (another collector holds the crawl): no empty file is left.
  ReportFile file;
  bool created = true;
  file.fd = ::open(report.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (file.fd < 0 && errno == EEXIST) {
    created = false;
    file.fd = ::open(report.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  }
  if (file.fd < 0) report_failed(report, "cannot open");
  bool locked = false;  // by this run: nobody else can have written to it
  auto remove_if_created = [&]() noexcept {
    struct stat now {};
    if (created && locked && ::fstat(file.fd, &now) == 0 && now.st_size == 0) {
      ::unlink(report.c_str());
    }
  };
  // One collector per crawl: two would each write (and delete) part of the
  // records, and a record could land in both reports.
  const std::string me = collector_name();
  const std::string ttl = std::to_string(kCollectorTtl.count());
  try {
    struct stat kind {};
    const bool regular = ::fstat(file.fd, &kind) == 0 && S_ISREG(kind.st_mode);
    if (regular && !lock_report(file.fd)) {  // (/dev/null, a FIFO: no file two runs share)
      Task<redis::Reply> asking = conn.command("GET", P + "collector");
      redis::Reply holder = co_await asking;
      if (!holder.is_nil()) throw another_collector(address, holder.as_string());
      throw SetupError(fmt::format(
          "report {} is being written by another run (a collector of another crawl, or a "
          "corun fetch): give this crawl's collector its own report file",
          report.string()));
    }
    locked = regular;
    {
      // A collector killed a moment ago holds the claim until it lapses: wait
      // that long (a live one renews it, and is named).
      auto give_up = std::chrono::steady_clock::now() + kCollectorTtl + std::chrono::seconds(2);
      for (;;) {
        Task<redis::Reply> claiming = queue_lua::collector_claim_script()(conn, {}, {S, me, ttl});
        redis::Reply got = co_await claiming;
        if (got.is_integer()) break;
        if (std::chrono::steady_clock::now() >= give_up) {
          throw another_collector(address, got.as_string());
        }
        co_await sleep(std::chrono::milliseconds(500));
      }
    }
  } catch (...) {
    remove_if_created();
    throw;
  }
  CollectResult result;
  auto pause = options.poll;
  auto warn = [&options](const std::string& message) {
    if (options.on_warning) options.on_warning(message);
  };
  // Interrupted (Ctrl-C): the claim is let go at once, so the same command
  // run again goes on without waiting for it to lapse.
  std::exception_ptr interrupted;
  // Redis away (a restart, a network cut): said once, retried until it is back,
  // as a worker does. Each pass after one takes the claim again and reads where
  // the report stands again (a store whose reply was lost may or may not have
  // run: the stored length says which, and the file is cut back to it).
  bool down = false;
  for (bool again = false;; again = true) {
    std::string lost;
    try {
      if (again) {
        Task<redis::Reply> claiming = queue_lua::collector_claim_script()(conn, {}, {S, me, ttl});
        redis::Reply got = co_await claiming;
        if (!got.is_integer()) throw another_collector(address, got.as_string());
      }
      // Where the report stands, read again now that the claim is ours: a
      // collector that held it until a moment ago wrote more since the first read.
      Task<redis::Reply> rereading = conn.command(redis::Timeout(kCollectorPatience), "HMGET",
                                                  P + "meta", "collect_id", "collect_bytes");
      redis::Reply stand = co_await rereading;
      std::string cursor = stand[0].as_optional_string().value_or("0-0");
      std::uint64_t stored_bytes = to_u64(stand[1].as_optional_string().value_or("0"));
      struct stat st {};
      if (::fstat(file.fd, &st) != 0) report_failed(report, "cannot stat");
      auto size = static_cast<std::uint64_t>(st.st_size);
      if (size < stored_bytes) {
        throw SetupError(fmt::format(
            "report {}: {} bytes, but {} bytes of records were collected into it before "
            "(records already collected are no longer in Redis): give the same report file",
            report.string(), size, stored_bytes));
      }
      // Lines written after the last stored cursor are written again below.
      if (size > stored_bytes && ::ftruncate(file.fd, static_cast<off_t>(stored_bytes)) != 0) {
        report_failed(report, "cannot truncate");
      }
      if (::lseek(file.fd, static_cast<off_t>(stored_bytes), SEEK_SET) < 0) {
        report_failed(report, "cannot seek");
      }
      std::uint64_t bytes = stored_bytes;
      auto renewed = std::chrono::steady_clock::now();
      if (down) {
        down = false;
        warn(fmt::format("queue {}: connected again", address.to_string()));
      }
      for (;;) {
        // Its own timeout, shorter than the connection's: while Redis is away
        // the command waits for the reconnection that long, then this says so.
        Task<redis::Reply> range = conn.command(redis::Timeout(kCollectorPatience), "XRANGE",
                                                P + "results", "(" + cursor, "+", "COUNT", 1000);
        redis::Reply entries = co_await range;
        if (entries.size() == 0) {
          Task<bool> checking_end = crawl_finished(conn, address);
          bool finished = co_await checking_end;
          if (finished) break;
          if (std::chrono::steady_clock::now() - renewed >= kCollectorTtl / 3) {
            Task<redis::Reply> claiming =
                queue_lua::collector_claim_script()(conn, {}, {S, me, ttl});
            redis::Reply got = co_await claiming;
            if (!got.is_integer()) throw another_collector(address, got.as_string());
            renewed = std::chrono::steady_clock::now();
          }
          co_await sleep(pause);
          continue;
        }
        std::string text;
        std::vector<std::string> ids;
        std::vector<Record> records;  // told once the batch is stored
        Record record;
        for (const redis::Reply& e : entries.as_array()) {
          ids.push_back(e[0].as_string());
          const redis::Reply& kv = e[1];
          for (std::size_t i = 0; i + 1 < kv.size(); i += 2) {
            if (kv[i].as_string() != "r") continue;
            record = Record{};
            if (parse_json_line(kv[i + 1].as_string(), record)) {
              text += to_json_line(record);
              text += '\n';
              records.push_back(std::move(record));
            }
          }
        }
        write_all(file.fd, text, report);
        if (::fsync(file.fd) != 0) report_failed(report, "cannot flush");
        std::vector<std::string> store{S, me, ttl, ids.back(), std::to_string(bytes + text.size())};
        store.insert(store.end(), ids.begin(), ids.end());
        // The store runs to its end even when Ctrl-C comes meanwhile (to_its_end).
        bool cancel_after = false;
        Task<redis::Reply> storing =
            to_its_end(queue_lua::collector_store_script()(conn, {}, std::move(store)),
                       "collector store", cancel_after);
        redis::Reply stored = co_await storing;
        if (stored.as_integer() == 0) {
          // Taken over while this one stalled: the batch is the other's to write.
          if (::ftruncate(file.fd, static_cast<off_t>(bytes)) != 0) {
            report_failed(report, "cannot truncate");
          }
          Task<redis::Reply> asking = conn.command("GET", P + "collector");
          redis::Reply holder = co_await asking;
          throw another_collector(address, holder.as_optional_string().value_or("?"));
        }
        renewed = std::chrono::steady_clock::now();
        bytes += text.size();
        cursor = ids.back();
        // Written and stored: a run that stops from here on starts after them
        // (before, the next run cuts the file back and writes them again).
        result.written += records.size();
        if (options.on_record) {
          for (const Record& r : records) options.on_record(r);
        }
        if (cancel_after) throw CancelledError();
      }
      break;
    } catch (const CancelledError&) {
      interrupted = std::current_exception();
      break;
    } catch (const redis::ResponseError& e) {
      // Any step's script finds the crawl gone (deleted between two steps): the
      // same clear end as the finished-check's, not the script's raw error.
      if (is_crawl_gone(e)) throw crawl_gone(address);
      throw;
    } catch (const redis::ConnectionError& e) {
      lost = e.what();
    } catch (const redis::TimeoutError& e) {
      lost = e.what();
    }
    if (!down) {
      down = true;
      warn(fmt::format("queue {}: {} (retrying; records stay in Redis until written)",
                       address.to_string(), lost));
    }
    co_await sleep(std::chrono::seconds(1));
  }
  if (interrupted) {
    try {
      Task<redis::Reply> releasing = wait_for(
          queue_lua::collector_release_script()(conn, {}, {S, me}), std::chrono::seconds(2));
      co_await releasing;
    } catch (...) {
      // Redis away, or interrupted again: the claim lapses by itself.
    }
    std::rethrow_exception(interrupted);
  }
  {
    Task<redis::Reply> releasing = queue_lua::collector_release_script()(conn, {}, {S, me});
    co_await releasing;
  }
  Task<redis::Reply> counting = conn.command("HMGET", P + "stats", "done", "failed");
  redis::Reply stats = co_await counting;
  result.done = to_u64(stats[0].as_optional_string().value_or("0"));
  result.failed = to_u64(stats[1].as_optional_string().value_or("0"));
  co_return result;
}

// ---- status ----

Task<QueueStatus> status(QueueAddress address) {
  Task<redis::Connection> opening = open(address, {});
  redis::Connection conn = co_await opening;
  Task<void> checking = check_types(conn, address);
  co_await checking;
  const std::string P = address.prefix();
  redis::Pipeline p = conn.pipeline();
  p.command("TIME")
      .command("HGETALL", P + "meta")
      .command("HGETALL", P + "stats")
      .command("XLEN", P + "work")
      .command("XPENDING", P + "work", queue_lua::kGroup)
      .command("ZCARD", P + "delay")
      .command("XLEN", P + "results")
      .command("HGETALL", P + "workers")
      .command("HGETALL", P + "hostq")
      .command("ZRANGE", P + "producers", "0", "-1", "WITHSCORES");
  Task<std::vector<redis::Reply>> running = p.execute(false);
  std::vector<redis::Reply> r = co_await running;
  auto meta = as_map(r[1]);
  if (meta.find("buckets") == meta.end()) {
    throw QueueError(
        fmt::format("queue {}: no crawl of that name on the server", address.to_string()));
  }
  auto stats = as_map(r[2]);
  QueueStatus s;
  s.total = field_u64(meta, "total");
  s.input_lines = field_u64(meta, "input_lines");
  s.input_done = meta["input_done"] == "1";
  s.done = field_u64(stats, "done");
  s.failed = field_u64(stats, "failed");
  s.retried = field_u64(stats, "retried");
  s.duplicates = field_u64(stats, "dup");
  auto work_len = static_cast<std::uint64_t>(r[3].as_integer());
  std::map<std::string, std::uint64_t> held;
  if (r[4].is_array() && r[4].size() == 4) {
    s.in_flight = static_cast<std::uint64_t>(r[4][0].as_integer());
    if (r[4][3].is_array()) {
      for (const redis::Reply& c : r[4][3].as_array()) {
        held[c[0].as_string()] = to_u64(c[1].as_string());
      }
    }
  }
  s.waiting = work_len - std::min(work_len, s.in_flight);
  s.delayed = static_cast<std::uint64_t>(r[5].as_integer());
  s.uncollected = static_cast<std::uint64_t>(r[6].as_integer());
  s.finished = s.input_done && work_len == 0 && s.delayed == 0;
  s.lease_ms = settings_from_meta(meta).lease.count();
  std::int64_t now_ms =
      std::stoll(r[0][0].as_string()) * 1000 + std::stoll(r[0][1].as_string()) / 1000;
  for (const auto& [name, beat] : as_map(r[7])) {
    QueueStatus::Worker w;
    w.name = name;
    w.in_flight = held.count(name) != 0 ? held[name] : 0;
    w.seen_ms_ago = now_ms - static_cast<std::int64_t>(to_u64(beat));
    held.erase(name);
    s.workers.push_back(std::move(w));
  }
  for (const auto& [name, count] : held) {  // leases of workers gone without a goodbye
    s.workers.push_back({name, count, -1});
  }
  for (const auto& [host, count] : as_map(r[8])) {
    s.slowest_hosts.push_back({host, to_u64(count)});
  }
  std::sort(s.slowest_hosts.begin(), s.slowest_hosts.end(),
            [](const auto& a, const auto& b) { return a.backlog > b.backlog; });
  if (s.slowest_hosts.size() > 10) s.slowest_hosts.resize(10);
  if (r[9].is_array()) {
    for (std::size_t i = 0; i + 1 < r[9].size(); i += 2) {
      std::int64_t until = static_cast<std::int64_t>(std::stod(r[9][i + 1].as_string()));
      if (until > now_ms) s.producers.push_back({r[9][i].as_string(), until - now_ms});
    }
  }
  co_return s;
}

std::string format_status(const QueueStatus& s, const QueueStatus* previous, double seconds) {
  std::string out = fmt::format(
      "total {}{}  waiting {}  in flight {}  delayed {}  done {}  failed {}  retried {}  "
      "duplicates {}  uncollected {}\n",
      s.total, s.input_done ? "" : " (input still being read)", s.waiting, s.in_flight, s.delayed,
      s.done, s.failed, s.retried, s.duplicates, s.uncollected);
  if (previous != nullptr && seconds > 0) {
    double rate =
        static_cast<double>((s.done + s.failed) - (previous->done + previous->failed)) / seconds;
    std::uint64_t left = s.total - std::min(s.total, s.done + s.failed);
    out += fmt::format("rate {:.1f} URLs/s", rate);
    if (rate > 0) out += fmt::format("  ETA {:.0f} s", static_cast<double>(left) / rate);
    out += '\n';
  }
  out += s.finished ? "finished\n" : "running\n";
  if (!s.input_done && s.producers.empty()) {
    // Workers wait for more URLs while the input is not done: say why it is not.
    out +=
        "  input not done: no producer is reading (the last one stopped before its input's "
        "end): run it again to add the rest, or `--enqueue /dev/null` to end the input as "
        "it is\n";
  }
  for (const auto& pr : s.producers) {
    out += fmt::format(
        "  producer {}: reading (its registration lapses in {:.0f} s unless it "
        "renews it)\n",
        pr.name, static_cast<double>(pr.lapses_in_ms) / 1000.0);
  }
  for (const auto& w : s.workers) {
    if (w.seen_ms_ago < 0) {
      out += fmt::format("  worker {}: {} in flight, no heartbeat (gone? its leases expire)\n",
                         w.name, w.in_flight);
    } else if (s.lease_ms > 0 && w.seen_ms_ago > s.lease_ms) {
      // A live worker is seen every few seconds (its claims and renewals).
      out += fmt::format(
          "  worker {}: {} in flight, seen {:.1f} s ago, past the crawl's {:g} s lease "
          "(stopped or stalled: its URLs go to the other workers)\n",
          w.name, w.in_flight, static_cast<double>(w.seen_ms_ago) / 1000.0,
          static_cast<double>(s.lease_ms) / 1000.0);
    } else {
      out += fmt::format("  worker {}: {} in flight, seen {:.1f} s ago\n", w.name, w.in_flight,
                         static_cast<double>(w.seen_ms_ago) / 1000.0);
    }
  }
  for (const auto& h : s.slowest_hosts) {
    out += fmt::format("  host {}: {} left\n", h.host, h.backlog);
  }
  return out;
}

}  // namespace corun::fetch
