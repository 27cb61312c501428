// Test fixtures shared by every integration test that needs a real server:
// a real nginx on a free loopback port with a config the test writes, and a
// throw-away CA + server certificate made with the openssl command line.
// Blocking helpers; call them outside the event loop (SetUp/TearDown).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>

namespace corun::testing {

// A fresh directory under $TMPDIR (or /tmp), removed by TempDir's destructor.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "corun-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

// A tmpfs of `size` (mount's size=, e.g. "64k") mounted on the existing folder dir,
// for full-disk tests; unmounted by the destructor. Mounting needs root
// (CAP_SYS_ADMIN): without it mounted() is false and error() says why.
class SmallTmpfs {
 public:
  // read_only: mounted read-only (every write fails with EROFS, also as root).
  SmallTmpfs(std::filesystem::path dir, std::string_view size, bool read_only = false);
  ~SmallTmpfs();
  SmallTmpfs(const SmallTmpfs&) = delete;
  SmallTmpfs& operator=(const SmallTmpfs&) = delete;
  bool mounted() const noexcept { return mounted_; }
  const std::string& error() const noexcept { return error_; }

 private:
  std::filesystem::path dir_;
  bool mounted_ = false;
  std::string error_;
};

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0).
int free_port();
// True once something accepts connections on 127.0.0.1:port.
bool wait_for_port(int port, std::chrono::milliseconds limit);
// Writes bytes to path, creating parent directories.
void write_text_file(const std::filesystem::path& path, std::string_view bytes);
// One blocking HTTP/1.0 GET on 127.0.0.1:port; returns the whole response (head + body).
std::string raw_http_get(int port, std::string_view path);

struct TestCerts {
  std::filesystem::path ca_cert;      // PEM, the CA a client must trust
  std::filesystem::path server_cert;  // PEM, for 127.0.0.1 and localhost, signed by the CA
  std::filesystem::path server_key;   // PEM
};
// Makes a CA and a server certificate under dir with the openssl command line;
// the certificate names localhost and the addresses 127.0.0.1 to 127.0.0.<hosts>.
TestCerts make_test_certs(const std::filesystem::path& dir, int hosts = 1);

struct NginxOptions {
  // Served as the document root; empty: an empty www/ folder in the fixture's dir.
  std::filesystem::path root;
  bool gzip = false;   // gzip on for text/html, text/plain, application/json
  bool tls = false;    // listen ... ssl with certs (which must be set)
  bool http2 = false;  // with tls: listen ... ssl http2
  TestCerts certs;
  int keepalive_requests = 100000;
  std::string extra_server_conf;  // appended inside server { }
  // Listen on 127.0.0.1 to 127.0.0.<hosts> (same port): one server, many hosts.
  int hosts = 1;
  // Log "$connection $connection_requests $ssl_session_reused" per request to
  // access.log (see logged_connections()).
  bool access_log = false;
};

// What nginx's access log (NginxOptions::access_log) says about the connections.
struct ConnectionLog {
  long requests = 0;     // log lines
  long connections = 0;  // distinct $connection serial numbers
  long resumed = 0;      // connections whose TLS session was resumed ("r")
};

// A real nginx (Debian's nginx-light) started in its own temporary directory
// with `daemon off` as a child process, stopped and reaped by the destructor.
class Nginx {
 public:
  explicit Nginx(NginxOptions options = {});
  ~Nginx();
  Nginx(const Nginx&) = delete;
  Nginx& operator=(const Nginx&) = delete;

  int port() const noexcept { return port_; }
  // "http://127.0.0.1:PORT" or "https://127.0.0.1:PORT".
  std::string base_url() const;
  const std::filesystem::path& root() const noexcept { return root_; }
  // Connections nginx has accepted on the main port so far (stub_status
  // "accepts", minus the status queries themselves, which use a second port).
  long accepted_connections();
  // The access log read now (requires NginxOptions::access_log).
  ConnectionLog logged_connections() const;
  // The same once it has at least `requests` lines: nginx logs a request after its
  // response went out, so a client can see an answer before its line exists. Waits
  // at most 5 s (a hang guard, not a speed check), then returns what is there.
  ConnectionLog logged_connections(long requests) const;
  // "https://127.0.0.<host>:PORT" (or http).
  std::string host_url(int host) const;

 private:
  TempDir dir_;
  std::filesystem::path root_;
  int port_ = 0;
  int status_port_ = 0;
  bool tls_ = false;
  bool access_log_ = false;
  pid_t pid_ = -1;
  long status_queries_ = 0;
};

}  // namespace corun::testing
