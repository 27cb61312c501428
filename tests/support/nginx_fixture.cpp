// Test fixtures: nginx launcher, temp dirs, openssl-made certificates.
#include "support/nginx_fixture.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace corun::testing {

namespace fs = std::filesystem;

TempDir::TempDir(std::string_view prefix) {
  const char* base = std::getenv("TMPDIR");
  fs::path root = (base != nullptr && *base != '\0') ? fs::path(base) : fs::path("/tmp");
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    fs::path p = root / (std::string(prefix) + "-" + std::to_string(::getpid()) + "-" +
                         std::to_string(rd() % 1000000));
    std::error_code ec;
    if (fs::create_directory(p, ec)) {
      path_ = p;
      return;
    }
  }
  throw std::runtime_error("TempDir: cannot create a directory under " + root.string());
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("free_port: socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("free_port: bind failed");
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

SmallTmpfs::SmallTmpfs(fs::path dir, std::string_view size, bool read_only) : dir_(std::move(dir)) {
  std::string options = "size=" + std::string(size);
  if (::mount("tmpfs", dir_.c_str(), "tmpfs", read_only ? MS_RDONLY : 0, options.c_str()) == 0) {
    mounted_ = true;
  } else {
    error_ = std::string("cannot mount a tmpfs on ") + dir_.string() + ": " + std::strerror(errno) +
             " (needs root or CAP_SYS_ADMIN)";
  }
}

SmallTmpfs::~SmallTmpfs() {
  if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
}

namespace {

int connect_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void run_or_throw(const std::string& cmd) {
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("command failed: " + cmd);
}

}  // namespace

bool wait_for_port(int port, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = connect_loopback(port);
    if (fd >= 0) {
      ::close(fd);
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

void write_text_file(const fs::path& path, std::string_view bytes) {
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string raw_http_get(int port, std::string_view path) {
  int fd = connect_loopback(port);
  if (fd < 0) throw std::runtime_error("raw_http_get: cannot connect");
  std::string req = "GET " + std::string(path) + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    throw std::runtime_error("raw_http_get: send failed");
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

TestCerts make_test_certs(const fs::path& dir, int hosts) {
  fs::create_directories(dir);
  TestCerts c{dir / "ca.pem", dir / "server.pem", dir / "server.key"};
  std::string d = dir.string();
  std::string san = "subjectAltName=DNS:localhost";
  for (int i = 1; i <= std::max(hosts, 1); ++i) san += ",IP:127.0.0." + std::to_string(i);
  write_text_file(dir / "san.ext", san +
                                       "\n"
                                       "basicConstraints=CA:FALSE\n"
                                       "keyUsage=digitalSignature,keyEncipherment\n"
                                       "extendedKeyUsage=serverAuth\n");
  run_or_throw(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=corun-test-ca"
      " -keyout '" +
      d + "/ca.key' -out '" + d + "/ca.pem' >/dev/null 2>&1");
  run_or_throw(
      "openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1"
      " -keyout '" +
      d + "/server.key' -out '" + d + "/server.csr' >/dev/null 2>&1");
  run_or_throw("openssl x509 -req -in '" + d + "/server.csr' -CA '" + d + "/ca.pem' -CAkey '" + d +
               "/ca.key' -CAcreateserial -days 2 -extfile '" + d + "/san.ext' -out '" + d +
               "/server.pem' >/dev/null 2>&1");
  return c;
}

Nginx::Nginx(NginxOptions options)
    : dir_("corun-nginx"), tls_(options.tls), access_log_(options.access_log) {
  if (options.hosts < 1 || options.hosts > 254) throw std::invalid_argument("hosts: 1 to 254");
  const fs::path& d = dir_.path();
  root_ = options.root.empty() ? d / "www" : options.root;
  fs::create_directories(root_);
  fs::create_directories(d / "tmp");
  port_ = free_port();
  status_port_ = free_port();
  while (status_port_ == port_) status_port_ = free_port();

  std::string listen;
  for (int i = 1; i <= options.hosts; ++i) {
    if (i > 1) listen += ";\n    ";
    listen += "listen 127.0.0." + std::to_string(i) + ":" + std::to_string(port_);
    if (options.tls) listen += options.http2 ? " ssl http2" : " ssl";
  }
  std::ostringstream conf;
  conf << "worker_processes 1;\n"
       << "daemon off;\n"
       << "pid " << (d / "nginx.pid").string() << ";\n"
       << "error_log " << (d / "error.log").string() << " warn;\n"
       << "events { worker_connections 4096; }\n"
       << "http {\n"
       << "  access_log off;\n"
       << "  log_format conns '$connection $connection_requests x$ssl_session_reused';\n"
       << "  default_type application/octet-stream;\n"
       << "  types { text/html html; text/plain txt; application/json json; }\n"
       << "  client_body_temp_path " << (d / "tmp").string() << ";\n"
       << "  proxy_temp_path " << (d / "tmp").string() << ";\n"
       << "  fastcgi_temp_path " << (d / "tmp").string() << ";\n"
       << "  uwsgi_temp_path " << (d / "tmp").string() << ";\n"
       << "  scgi_temp_path " << (d / "tmp").string() << ";\n"
       << "  keepalive_requests " << options.keepalive_requests << ";\n"
       << "  keepalive_timeout 60s;\n";
  if (options.gzip) {
    conf << "  gzip on; gzip_min_length 0; gzip_types text/plain application/json;\n";
  }
  conf << "  server {\n    " << listen << ";\n"
       << "    root " << root_.string() << ";\n";
  if (options.access_log) conf << "    access_log " << (d / "access.log").string() << " conns;\n";
  if (options.tls) {
    // TLS 1.3 as on today's sites (nginx 1.22's default stops at TLS 1.2).
    conf << "    ssl_protocols TLSv1.2 TLSv1.3;\n"
         << "    ssl_certificate " << options.certs.server_cert.string() << ";\n"
         << "    ssl_certificate_key " << options.certs.server_key.string() << ";\n";
  }
  conf << "    " << options.extra_server_conf << "\n  }\n"
       << "  server {\n    listen 127.0.0.1:" << status_port_ << ";\n"
       << "    location = /status { stub_status; }\n  }\n"
       << "}\n";
  write_text_file(d / "nginx.conf", conf.str());

  std::string conf_path = (d / "nginx.conf").string();
  std::string err_path = (d / "error.log").string();
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::execlp("nginx", "nginx", "-c", conf_path.c_str(), "-e", err_path.c_str(),
             static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // nginx binds every listening socket before it starts serving, so once the status
  // port answers the main port listens too (and has seen no connection yet).
  if (!wait_for_port(status_port_, std::chrono::seconds(10))) {
    std::string log = read_file(d / "error.log");
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    throw std::runtime_error("nginx did not start: " + log);
  }
  status_queries_ = 1;  // wait_for_port's successful probe
}

Nginx::~Nginx() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

std::string Nginx::host_url(int host) const {
  return std::string(tls_ ? "https" : "http") + "://127.0.0." + std::to_string(host) + ":" +
         std::to_string(port_);
}

ConnectionLog Nginx::logged_connections() const {
  if (!access_log_) throw std::logic_error("logged_connections: access_log is off");
  std::ifstream in(dir_.path() / "access.log");
  std::set<long> seen;
  ConnectionLog out;
  long conn = 0;
  long reqs = 0;
  std::string reused;
  while (in >> conn >> reqs >> reused) {
    ++out.requests;
    if (seen.insert(conn).second && reused == "xr") ++out.resumed;
  }
  out.connections = static_cast<long>(seen.size());
  return out;
}

ConnectionLog Nginx::logged_connections(long requests) const {
  ConnectionLog log = logged_connections();
  for (int i = 0; i < 500 && log.requests < requests; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    log = logged_connections();
  }
  return log;
}

std::string Nginx::base_url() const {
  return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
}

long Nginx::accepted_connections() {
  std::string resp = raw_http_get(status_port_, "/status");
  ++status_queries_;
  // "Active connections: N \nserver accepts handled requests\n A H R \n..."
  auto pos = resp.find("requests\n");
  if (pos == std::string::npos) throw std::runtime_error("bad stub_status reply: " + resp);
  std::istringstream in(resp.substr(pos + 9));
  long accepts = 0;
  in >> accepts;
  return accepts - status_queries_;
}

}  // namespace corun::testing
