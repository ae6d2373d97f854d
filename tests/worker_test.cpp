// Worker: option helpers, the console protocol and its TCP server in process; signals,
// exit statuses, the console and the blocking detector in a child process running
// tests/worker_fixture (MODE_WORKER_FIXTURE is its path).
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <httplib.h>
#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "child_process.hpp"
#include "mode/worker.hpp"
#include "test_support.hpp"

extern char** environ;

using namespace std::chrono_literals;
using mode::ServiceNode;

namespace {

using steady = std::chrono::steady_clock;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

ServiceNode sample_tree() {
  ServiceNode root;
  root.label = "Worker";
  root.state = "running";
  root.answered = true;
  ServiceNode child = root;
  child.label = "Alpha";
  root.children.push_back(child);
  return root;
}

/// The socket address of a Unix socket at `path`.
sockaddr_un unix_address(const std::filesystem::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  REQUIRE(path.native().size() < sizeof addr.sun_path);
  std::copy(path.native().begin(), path.native().end(), addr.sun_path);
  return addr;
}

// -- a child process with its stdout and stderr on pipes --------------------------------------

/// The worker fixture as a child process.
class child_process : public mode::testing::child_process {
 public:
  explicit child_process(std::vector<std::string> args, std::vector<std::string> env = {})
      : mode::testing::child_process(MODE_WORKER_FIXTURE, std::move(args), std::move(env)) {}
};

// -- a TCP client for the console -----------------------------------------------------------------

class console_client {
 public:
  /// Connects to 127.0.0.1:port, retrying until `limit` (the server may still be
  /// starting).
  console_client(std::uint16_t port, std::chrono::seconds limit = 30s) {
    auto deadline = steady::now() + limit;
    while (steady::now() < deadline) {
      fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(port);
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0)
        return;
      ::close(fd_);
      fd_ = -1;
      std::this_thread::sleep_for(20ms);
    }
  }
  /// Connects to the Unix socket at `path`, retrying until `limit`.
  explicit console_client(const std::filesystem::path& path, std::chrono::seconds limit = 30s) {
    auto deadline = steady::now() + limit;
    while (steady::now() < deadline) {
      fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      auto addr = unix_address(path);
      if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0)
        return;
      ::close(fd_);
      fd_ = -1;
      std::this_thread::sleep_for(20ms);
    }
  }
  ~console_client() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  console_client(const console_client&) = delete;
  console_client& operator=(const console_client&) = delete;

  [[nodiscard]] bool connected() const { return fd_ >= 0; }

  void send_line(const std::string& line) {
    auto text = line + "\n";
    REQUIRE(::send(fd_, text.data(), text.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(text.size()));
  }

  /// Everything received up to (and without) the next prompt; empty on timeout.
  std::string read_until_prompt(std::chrono::seconds limit = 30s) {
    auto deadline = steady::now() + limit;
    std::string prompt{mode::Console::prompt};
    for (;;) {
      if (auto pos = buf_.find(prompt); pos != std::string::npos) {
        auto text = buf_.substr(0, pos);
        buf_.erase(0, pos + prompt.size());
        return text;
      }
      if (!read_some(deadline))
        return {};
    }
  }

  /// Reads until the server closes the connection; what arrived meanwhile.
  std::string read_to_end(std::chrono::seconds limit = 30s) {
    auto deadline = steady::now() + limit;
    while (read_some(deadline)) {
    }
    return std::exchange(buf_, {});
  }

  [[nodiscard]] bool closed() const { return closed_; }

  /// Half-closes: the server reads EOF after what was sent (`nc -N`).
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

  /// Sends "tree" lines without ever reading, until the kernel's buffers stay full
  /// (the server stopped reading) or `limit`; returns the bytes sent and whether it
  /// stalled.
  std::pair<std::size_t, bool> flood(std::chrono::seconds limit = 20s) {
    std::string chunk;
    for (int i = 0; i < 1000; ++i)
      chunk += "tree\n";
    std::size_t sent = 0;
    auto deadline = steady::now() + limit;
    int refused = 0;
    while (steady::now() < deadline) {
      auto n = ::send(fd_, chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
        refused = 0;
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        return {sent, false};
      if (++refused == 10)  // a full second without room: not read any more
        return {sent, true};
      std::this_thread::sleep_for(100ms);
    }
    return {sent, false};
  }

 private:
  bool read_some(steady::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
    if (left.count() <= 0 || closed_)
      return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      return false;
    char buf[4096];
    auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    buf_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string buf_;
  bool closed_ = false;
};

/// A port that was free a moment ago (the kernel's pick for port 0).
std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace

// -- options
// ---------------------------------------------------------------------------------------

TEST_CASE("normalize_arguments drops the --caf. prefix of CAF's own options only" *
          doctest::timeout(10)) {
  std::vector<std::string> in{"--caf.scheduler.max-threads=2", "--loglevel=info", "--caf.",
                              "caffeine", "--scheduler.policy=sharing"};
  std::vector<std::string> out{"--scheduler.max-threads=2", "--loglevel=info", "--caf.", "caffeine",
                               "--scheduler.policy=sharing"};
  CHECK(mode::normalize_arguments(in) == out);
}

TEST_CASE("validate names the option and quotes a bad value" * doctest::timeout(10)) {
  mode::WorkerOptions ok;
  CHECK_NOTHROW(mode::validate(ok));
  auto level = ok;
  level.log_level = "loud";
  CHECK_THROWS_WITH_AS(mode::validate(level),
                       doctest::Contains("--loglevel: unknown log level 'loud'"),
                       std::invalid_argument);
  auto blocking = ok;
  blocking.blocking_timeout = -2;
  CHECK_THROWS_WITH_AS(mode::validate(blocking), doctest::Contains("--blocking-timeout"),
                       std::invalid_argument);
  auto stop = ok;
  stop.stop_timeout = 0;
  CHECK_THROWS_WITH_AS(mode::validate(stop), doctest::Contains("--stop-timeout"),
                       std::invalid_argument);
  auto numeric = ok;
  numeric.log_level = "20";
  CHECK_NOTHROW(mode::validate(numeric));
}

TEST_CASE("say and carp write lines to the worker's streams unless quiet" * doctest::timeout(10)) {
  std::ostringstream out;
  std::ostringstream err;
  mode::WorkerOptions opts;
  opts.stdout_stream = &out;
  opts.stderr_stream = &err;
  mode::Worker worker{{}, opts};
  worker.say("hello");
  worker.carp("-INT-");
  CHECK(out.str() == "hello\n");
  CHECK(err.str() == "-INT-\n");
  worker.options().quiet = true;
  worker.say("nothing");
  worker.carp("nothing");
  CHECK(out.str() == "hello\n");
  CHECK(err.str() == "-INT-\n");
  CHECK(worker.system() == nullptr);
  CHECK(worker.console_port() == 0);
  CHECK(worker.console_socket().empty());
  CHECK_FALSE(worker.service_tree().answered);
  CHECK_THROWS_AS(mode::Worker({nullptr}), std::invalid_argument);
}

namespace {
class ServiceA : public mode::Service {};
class ServiceB : public mode::Service {};
}  // namespace

TEST_CASE("a Worker takes its services as a braced list; they become its children" *
          doctest::timeout(10)) {
  auto a = std::make_shared<ServiceA>();
  auto b = std::make_shared<ServiceB>();
  mode::Worker worker{{a, b}};
  REQUIRE(worker.services().size() == 2);
  CHECK(worker.services()[0] == a);
  auto deps = worker.on_init_dependencies();
  REQUIRE(deps.size() == 2);
  CHECK(deps[1] == b);
  CHECK_FALSE(worker.options().console_port.has_value());  // the Unix socket
  CHECK(worker.options().console_socket.empty());
  CHECK(worker.options().blocking_timeout.count() == 10.0);
  CHECK(worker.options().daemon);
  CHECK(worker.options().redirect_stdouts);
}

TEST_CASE("a Worker runs on the program's own actor system, next to plain actors" *
          doctest::timeout(60)) {
  auto a = std::make_shared<ServiceA>();
  {
    // Without WorkerSignals first, the system's threads could take SIGTERM: refused.
    caf::actor_system_config cfg;
    caf::actor_system sys{cfg};
    mode::Worker worker{{a}};
    CHECK_THROWS_WITH_AS(worker.execute_from_commandline(sys),
                         doctest::Contains("create a mode::WorkerSignals before"),
                         std::logic_error);
  }
  mode::WorkerSignals signals;
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  // (A function with an argument: CAF 0.17.6 spawns one without through a null tuple
  // pointer, which UBSan reports.)
  auto plain = sys.spawn(
      [](caf::event_based_actor*, int step) -> caf::behavior {
        return {[step](int x) {
          return x + step;
        }};
      },
      1);
  mode::Worker worker{{a}};
  worker.options().daemon = false;  // start, then stop: no signal needed
  worker.options().redirect_stdouts = false;
  CHECK(worker.execute_from_commandline(sys) == 0);
  CHECK(a->state() == mode::ServiceState::shutdown);
  // The system is still the caller's: its plain actor answers after the worker ended.
  caf::scoped_actor self{sys};
  int answer = 0;
  self->request(plain, std::chrono::seconds{5}, 41)
      .receive([&](int x) { answer = x; }, [&](caf::error& err) { FAIL(caf::to_string(err)); });
  CHECK(answer == 42);
  caf::anon_send_exit(plain, caf::exit_reason::user_shutdown);
}

// -- the console ----------------------------------------------------------------------------------

TEST_CASE(
    "console_reply answers help, tree, tasks, graph, stats and quit; errors name the command" *
    doctest::timeout(10)) {
  int snapshots = 0;
  auto snapshot = [&] {
    ++snapshots;
    return sample_tree();
  };
  auto help = mode::console_reply("help", snapshot);
  for (auto* cmd : {"tree", "tasks", "graph", "stats", "quit"})
    CHECK(contains(help.text, cmd));
  CHECK(snapshots == 0);
  CHECK(mode::console_reply("  TREE \r", snapshot).text == mode::render_tree(sample_tree()));
  CHECK(mode::console_reply("graph", snapshot).text == mode::to_dot(sample_tree()));
  CHECK(mode::console_reply("tasks", snapshot).text == "No pending tasks.\n");
  auto stats = mode::console_reply("stats", snapshot).text;
  CHECK(contains(stats, "# TYPE mode_service_up gauge"));
  CHECK(contains(stats, "mode_process_resident_memory_bytes "));
  CHECK(snapshots == 4);
  auto bad = mode::console_reply("reboot now", snapshot);
  CHECK(bad.text == "error: unknown command 'reboot now' (try 'help')\n");
  CHECK_FALSE(bad.close);
  CHECK(mode::console_reply("", snapshot).text.empty());
  CHECK(mode::console_reply("quit", snapshot).close);
  CHECK(mode::console_reply("exit", snapshot).close);
  auto failing = []() -> ServiceNode {
    throw std::runtime_error("no system");
  };
  CHECK(mode::console_reply("tree", failing).text == "error: tree failed: no system\n");
}

TEST_CASE(
    "the console serves the protocol over TCP on loopback; bad lines keep the "
    "connection usable" *
    doctest::timeout(60)) {
  mode::Console console{0, sample_tree};
  REQUIRE(console.port() != 0);
  console_client a{console.port()};
  REQUIRE(a.connected());
  CHECK(contains(a.read_until_prompt(), "Commands: help, tree"));
  a.send_line("tree");
  CHECK(a.read_until_prompt() == "Worker [running] restarts=0\n  Alpha [running] restarts=0\n");
  a.send_line("frobnicate");
  CHECK(a.read_until_prompt() == "error: unknown command 'frobnicate' (try 'help')\n");
  a.send_line(std::string(10000, 'x'));
  CHECK(contains(a.read_until_prompt(), "error: line too long"));
  // A second client at the same time.
  console_client b{console.port()};
  REQUIRE(b.connected());
  b.read_until_prompt();
  b.send_line("graph");
  CHECK(a.closed() == false);
  CHECK(contains(b.read_until_prompt(), "digraph dependencies {"));
  a.send_line("tree");
  CHECK(contains(a.read_until_prompt(), "Alpha"));
  a.send_line("quit");
  CHECK(a.read_to_end() == "bye\n");
  CHECK(a.closed());
}

TEST_CASE("console: a client that half-closes after its commands still gets every answer" *
          doctest::timeout(60)) {
  mode::Console console{0, sample_tree};
  console_client a{console.port()};
  REQUIRE(a.connected());
  a.send_line("tree");
  a.send_line("graph");
  a.shutdown_write();  // printf 'tree\ngraph\n' | nc -N 127.0.0.1 PORT
  auto all = a.read_to_end();
  CHECK(contains(all, "Commands: help, tree"));
  CHECK(contains(all, "  Alpha [running] restarts=0\n"));
  CHECK(contains(all, "digraph dependencies {"));
  CHECK(a.closed());
}

TEST_CASE("console: a client that floods and never reads is held back; others and a stop go on" *
          doctest::timeout(120)) {
  mode::ConsoleLimits limits;
  limits.max_pending_output = 64 * 1024;
  auto console = std::make_unique<mode::Console>(0, sample_tree, limits);
  console_client flooder{console->port()};
  REQUIRE(flooder.connected());
  auto [sent, stalled] = flooder.flood();
  CHECK(stalled);  // the console stopped reading it once 64 KiB of answers waited
  // What it got in: the answers it allows plus the kernel's socket buffers, not the
  // 20 s of flooding that an unbounded queue took (hundreds of MB).
  CHECK(sent < 64u * 1024 * 1024);
  console_client other{console->port()};
  REQUIRE(other.connected());
  other.read_until_prompt(10s);
  other.send_line("tree");
  CHECK(contains(other.read_until_prompt(10s), "Alpha"));
  auto t0 = steady::now();
  console.reset();  // a stop never waits on a client
  CHECK(steady::now() - t0 < 5s);
}

TEST_CASE("console: a 10 MB line and 200 connections" * doctest::timeout(120)) {
  mode::Console console{0, sample_tree};
  console_client a{console.port()};
  REQUIRE(a.connected());
  a.read_until_prompt();
  a.send_line(std::string(10 * 1024 * 1024, 'x'));
  CHECK(a.read_until_prompt() == "error: line too long (max 4096 bytes)\n");  // once
  a.send_line("tree");
  CHECK(contains(a.read_until_prompt(), "Alpha"));
  std::vector<std::unique_ptr<console_client>> crowd;
  for (int i = 0; i < 199; ++i)
    crowd.push_back(std::make_unique<console_client>(console.port()));
  int served = 1;  // a
  int refused = 0;
  for (auto& c : crowd) {
    if (contains(c->read_until_prompt(5s), "Commands:"))
      ++served;
    else if (contains(c->read_to_end(5s), "error: too many connections"))
      ++refused;
  }
  CHECK(served == 16);
  CHECK(refused == 184);
  a.send_line("tree");  // the first one still works
  CHECK(contains(a.read_until_prompt(), "Alpha"));
}

TEST_CASE("console: idle connections time out, so they cannot lock operators out" *
          doctest::timeout(120)) {
  mode::ConsoleLimits limits;
  limits.idle_timeout = 1s;
  limits.max_clients = 2;
  mode::Console console{0, sample_tree, limits};
  console_client idle1{console.port()};
  console_client idle2{console.port()};
  CHECK(contains(idle1.read_until_prompt(), "Commands:"));
  CHECK(contains(idle2.read_until_prompt(), "Commands:"));
  console_client locked_out{console.port()};
  CHECK(contains(locked_out.read_to_end(), "error: too many connections"));
  CHECK(idle1.read_to_end() == "error: idle for 1 s, closing\n");
  CHECK(idle2.read_to_end() == "error: idle for 1 s, closing\n");
  CHECK(idle1.closed());
  console_client operator_{console.port()};
  CHECK(contains(operator_.read_until_prompt(), "Commands:"));
}

TEST_CASE("console limits must be positive" * doctest::timeout(10)) {
  mode::ConsoleLimits limits;
  limits.max_clients = 0;
  CHECK_THROWS_WITH_AS(mode::Console(0, sample_tree, limits),
                       doctest::Contains("limits must be positive"), std::invalid_argument);
}

TEST_CASE("a console port in use is an error naming the address" * doctest::timeout(30)) {
  mode::Console first{0, sample_tree};
  try {
    mode::Console second{first.port(), sample_tree};
    FAIL("a second console on the same port");
  } catch (const std::system_error& e) {
    CHECK(contains(e.what(), "127.0.0.1:" + std::to_string(first.port())));
    CHECK(e.code() == std::errc::address_in_use);
  }
}

namespace {

/// A fresh directory for socket files, removed with what is in it.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mode-test-XXXXXX").native();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
};

unsigned mode_bits(const std::filesystem::path& p) {
  struct stat st {};
  REQUIRE(::lstat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

}  // namespace

TEST_CASE("console on a Unix socket: mode 0600, answers, removed at the end" *
          doctest::timeout(60)) {
  temp_dir dir;
  auto path = dir.path / "console.sock";
  {
    ::umask(0);  // the socket must not take its mode from a permissive umask
    mode::Console console{path, sample_tree};
    ::umask(022);
    CHECK(console.port() == 0);
    CHECK(console.socket_path() == path);
    CHECK(std::filesystem::is_socket(path));
    CHECK(mode_bits(path) == 0600);
    console_client client{path};
    REQUIRE(client.connected());
    CHECK(contains(client.read_until_prompt(), "mode-cpp console"));
    client.send_line("tree");
    CHECK(client.read_until_prompt() == mode::render_tree(sample_tree()));
  }
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE(
    "console on a Unix socket: a stale file is replaced; a live console, a plain file "
    "and a long path are refused, by name" *
    doctest::timeout(60)) {
  temp_dir dir;
  auto path = dir.path / "console.sock";
  SUBCASE("a socket file nobody listens on (its process died) is replaced") {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    auto addr = unix_address(path);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    ::close(fd);  // the file stays, with no listener
    mode::Console console{path, sample_tree};
    console_client client{path};
    CHECK(contains(client.read_until_prompt(), "mode-cpp console"));
  }
  SUBCASE("a socket a live console answers on") {
    mode::Console first{path, sample_tree};
    try {
      mode::Console second{path, sample_tree};
      FAIL("a second console on the same socket");
    } catch (const std::system_error& e) {
      CHECK(contains(e.what(), path.native()));
      CHECK(e.code() == std::errc::address_in_use);
    }
    console_client client{path};  // the first still answers
    CHECK(contains(client.read_until_prompt(), "mode-cpp console"));
  }
  SUBCASE("a file that is not a socket is left alone") {
    std::ofstream{path} << "precious";
    CHECK_THROWS_WITH_AS(mode::Console(path, sample_tree), doctest::Contains(path.c_str()),
                         std::system_error);
    std::ifstream in{path};
    std::string text;
    in >> text;
    CHECK(text == "precious");
  }
  SUBCASE("a path longer than a socket address holds") {
    auto long_path = dir.path / std::string(120, 'x');
    CHECK_THROWS_WITH_AS(mode::Console(long_path, sample_tree),
                         doctest::Contains("must be 1 to 107 bytes long"), std::invalid_argument);
  }
}

// -- the worker as a process
// -----------------------------------------------------------------------

TEST_CASE("SIGTERM stops the services in reverse order and exits 0" * doctest::timeout(120)) {
  child_process child{{"clean", "--loglevel=info"}};
  REQUIRE(child.wait_for("FIXTURE ready"));
  CHECK(contains(child.err(), "FIXTURE execute"));
  CHECK(contains(child.err(), "FIXTURE started Alpha\n"));
  child.signal(SIGTERM);
  CHECK(child.wait_exit() == 0);
  auto& err = child.err();
  auto beta = err.find("FIXTURE stopping Beta");
  auto alpha = err.find("FIXTURE stopping Alpha");
  REQUIRE(beta != std::string::npos);
  REQUIRE(alpha != std::string::npos);
  CHECK(beta < alpha);
  CHECK(contains(err, "Signal received: SIGTERM (15)"));
  CHECK(contains(err, "FIXTURE worker_shutdown"));
  CHECK(contains(err, "FIXTURE exit 0"));
}

TEST_CASE("SIGINT carps -INT- and stops cleanly" * doctest::timeout(120)) {
  child_process child{{"clean"}};
  REQUIRE(child.wait_for("FIXTURE ready"));
  child.signal(SIGINT);
  CHECK(child.wait_exit() == 0);
  CHECK(contains(child.err(), "-INT- -INT- -INT- -INT- -INT- -INT-\n"));
  CHECK(contains(child.err(), "FIXTURE stopping Alpha"));
}

TEST_CASE("a crash without a supervisor exits 1 with the reason logged" * doctest::timeout(120)) {
  child_process child{{"crash"}};
  CHECK(child.wait_exit() == 1);
  CHECK(contains(child.err(), "Crashed reason=std::runtime_error: fixture boom"));
  CHECK(contains(child.err(),
                 "We experienced a crash! Reason: Crasher <- std::runtime_error: "
                 "fixture boom"));
  CHECK(contains(child.err(), "FIXTURE stopping Alpha"));
}

TEST_CASE("a supervisor exceeding max_restarts makes the worker exit 1" * doctest::timeout(120)) {
  child_process child{{"max-restarts", "--loglevel=info"}};
  CHECK(child.wait_exit() == 1);
  CHECK(contains(child.err(), "Restarting dead Crasher!"));
  CHECK(contains(child.err(), "Max restarts exceeded"));
  CHECK(contains(child.err(), "MaxRestartsExceeded"));
  CHECK(contains(child.err(), "FIXTURE stopping Alpha"));
}

TEST_CASE("a second SIGINT during a hung stop exits 1 at once" * doctest::timeout(120)) {
  child_process child{{"hang-stop"}};
  REQUIRE(child.wait_for("FIXTURE ready"));
  child.signal(SIGINT);
  REQUIRE(child.wait_for("FIXTURE stopping Hanger (hangs)"));
  auto sent = steady::now();
  child.signal(SIGINT);
  CHECK(child.wait_exit(20s) == 1);
  CHECK(steady::now() - sent < 20s);
  CHECK(contains(child.err(), "SIGINT (2) while stopping: forcing exit"));
  CHECK_FALSE(contains(child.err(), "FIXTURE exit"));
}

TEST_CASE("a stop that outlives --stop-timeout exits 1" * doctest::timeout(120)) {
  child_process child{{"hang-stop", "--stop-timeout=1"}};
  REQUIRE(child.wait_for("FIXTURE ready"));
  child.signal(SIGTERM);
  CHECK(child.wait_exit(30s) == 1);
  CHECK(contains(child.err(), "Stopping did not finish within 1s (--stop-timeout): forcing exit"));
}

TEST_CASE("SIGUSR1 writes every pending task with file:line to stderr" * doctest::timeout(120)) {
  child_process child{{"sleeper"}};
  REQUIRE(child.wait_for("FIXTURE ready"));
  child.signal(SIGUSR1);
  REQUIRE(child.wait_for("awaiting Service.sleep"));
  CHECK(contains(child.err(), "Pending tasks (SIGUSR1):\nSleeper sleeper\n===============\n"));
  CHECK(contains(child.err(), "worker_fixture/main.cpp:"));
  child.signal(SIGUSR2);
  REQUIRE(child.wait_for("digraph dependencies {"));
  CHECK(child.wait_for("[label=\"Sleeper\""));
  child.signal(SIGTERM);
  CHECK(child.wait_exit() == 0);
}

TEST_CASE("bad command lines exit 64 with the error and the usage, and start nothing" *
          doctest::timeout(120)) {
  struct bad_case {
    std::vector<std::string> args;
    std::string message;
  };
  std::vector<bad_case> cases{
      {{"clean", "--bogus"}, "unknown option '--bogus'"},
      {{"clean", "--loglevel=loud"}, "--loglevel: unknown log level 'loud'"},
      {{"clean", "--console-port=http"}, "bad value in '--console-port=http'"},
      {{"clean", "--console-port=70000"},
       "--console-port: must be a port number 0 to 65535 (or -1: off), got '70000'"},
      {{"clean", "--console-socket=/tmp/" + std::string(120, 'x')},
       "--console-socket: a socket path has at most 107 bytes"},
      {{"clean", "--blocking-timeout=0"}, "--blocking-timeout: must be a positive number"},
      {{"clean", "--log-format=yaml"}, "--log-format: unknown log format 'yaml'"},
      {{"clean", "--web-port=65536"},
       "--web-port: must be a port number 0 to 65535 (or -1: off), got '65536'"},
      {{"clean", "--loglevel"}, "option '--loglevel' needs a value"},
      {{"clean", "--node-port=65536"},
       "--node-port: must be a port number 0 to 65535 (or -1: off), got '65536'"},
      {{"clean", "--peers=127.0.0.1"}, "--peers: peer address '127.0.0.1': expected host:port"},
      {{"clean", "--peers=a:1,"}, "--peers: peer list: a trailing ',' names no peer"},
      {{"clean", "--node-port=0", "--node-host=0.0.0.0"},
       "node option host (--node-host): '0.0.0.0' is beyond loopback"},
      {{"clean", "--node-port=0", "--tls-certificate=/nonexistent.pem"},
       "node option tls_key (--tls-key): missing; TLS needs"},
      {{"clean", "--node-port=0", "--heartbeat=0"},
       "node option heartbeat_interval (--heartbeat): 0s is not positive"},
      {{"clean", "--node-port=0", "--connection-timeout=0.25"},
       "node option connection_timeout (--connection-timeout): 0.25s is not longer than the "
       "heartbeat interval (0.5s)"},
      {{"clean", "stray"}, "unexpected argument 'stray'"},
  };
  for (auto& c : cases) {
    CAPTURE(c.message);
    child_process child{c.args};
    CHECK(child.wait_exit() == 64);
    CHECK(contains(child.err(), "mode_worker_fixture: " + c.message));
    CHECK(contains(child.err(), "Usage: mode_worker_fixture [options]"));
    CHECK(contains(child.err(), "--console-port"));
    CHECK_FALSE(contains(child.err(), "FIXTURE execute"));
  }
}

TEST_CASE("--help lists the options and exits 0; CAF's options pass through" *
          doctest::timeout(120)) {
  {
    child_process child{{"clean", "--help"}};
    CHECK(child.wait_exit() == 0);
    for (auto* opt :
         {"--loglevel", "--logfile", "--debug", "--quiet", "--console-port", "--blocking-timeout",
          "--stop-timeout", "--node-port", "--node-host", "--node-name", "--peers", "--heartbeat",
          "--connection-timeout", "--request-timeout"})
      CHECK(contains(child.out(), opt));
    CHECK_FALSE(contains(child.err(), "FIXTURE execute"));
  }
  for (auto* opt : {"--caf.scheduler.max-threads=3", "--scheduler.max-threads=3"}) {
    CAPTURE(opt);
    child_process child{{"nodaemon", opt}};
    CHECK(child.wait_exit() == 0);
    CHECK(contains(child.err(), "FIXTURE stopping Alpha"));
  }
}

TEST_CASE("a non-daemon worker stops right after starting; out of memory exits 71" *
          doctest::timeout(120)) {
  {
    child_process child{{"nodaemon"}};
    CHECK(child.wait_exit() == 0);
    CHECK(contains(child.err(), "FIXTURE ready"));
    CHECK(contains(child.err(), "FIXTURE stopping Alpha"));
  }
  {
    child_process child{{"oom"}};
    CHECK(child.wait_exit() == 71);
    CHECK(contains(child.err(), "std::bad_alloc"));
  }
}

TEST_CASE("--debug serves the console on a Unix socket by default; the file goes at exit" *
          doctest::timeout(120)) {
  temp_dir dir;
  auto path = dir.path / "worker.sock";
  child_process child{
      {"sleeper", "--debug", "--loglevel=info", "--console-socket=" + path.native()}};
  REQUIRE(child.wait_for("FIXTURE ready"));
  CHECK(child.wait_for("Console on unix:" + path.native() + " (nc -U " + path.native() + ")"));
  CHECK(mode_bits(path) == 0600);
  console_client client{path};
  REQUIRE(client.connected());
  client.read_until_prompt();
  client.send_line("tree");
  CHECK(client.read_until_prompt() ==
        "FixtureWorker [running] restarts=0\n  Sleeper [running] restarts=0\n");
  child.signal(SIGTERM);
  CHECK(child.wait_exit() == 0);
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("--debug serves the console on loopback: tree over a real TCP connection" *
          doctest::timeout(120)) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto port = free_port();
    child_process child{{"sleeper", "--debug", "--console-port=" + std::to_string(port)}};
    REQUIRE(child.wait_for("FIXTURE ready"));
    if (contains(child.err(), "Cannot start the console"))
      continue;  // someone took the port
    console_client client{port};
    REQUIRE(client.connected());
    client.read_until_prompt();
    client.send_line("tree");
    auto tree = client.read_until_prompt();
    CHECK(tree == "FixtureWorker [running] restarts=0\n  Sleeper [running] restarts=0\n");
    client.send_line("no-such-command");
    CHECK(contains(client.read_until_prompt(), "error: unknown command"));
    client.send_line("tasks");
    CHECK(contains(client.read_until_prompt(), "Sleeper sleeper"));
    client.send_line("quit");
    client.read_to_end();
    child.signal(SIGTERM);
    CHECK(child.wait_exit() == 0);
    return;
  }
  FAIL("no free port for the console in 3 attempts");
}

TEST_CASE("a console port in use is a warning; the worker still runs" * doctest::timeout(120)) {
  mode::Console taken{0, sample_tree};
  child_process child{{"clean", "--debug", "--console-port=" + std::to_string(taken.port())}};
  REQUIRE(child.wait_for("FIXTURE ready"));
  CHECK(
      contains(child.err(), "Cannot start the console: mode console: cannot listen on 127.0.0.1:" +
                                std::to_string(taken.port())));
  child.signal(SIGTERM);
  CHECK(child.wait_exit() == 0);
}

TEST_CASE("--debug runs the blocking detector: a service that blocks its thread is reported" *
          doctest::timeout(120)) {
  child_process child{{"block", "--debug", "--blocking-timeout=0.3", "--console-port=0"}};
  REQUIRE(child.wait_for("FIXTURE unblocked"));
  CHECK(child.wait_for("Blocking detected (timeout=0.3s): service Blocker blocked its thread"));
  child.signal(SIGTERM);
  CHECK(child.wait_exit() == 0);
}

TEST_CASE("--log-format json: every log line on stderr is a JSON object" * doctest::timeout(120)) {
  child_process child{{"clean", "--log-format=json", "--loglevel=info"}};
  REQUIRE(child.wait_for("FIXTURE ready"));
  child.signal(SIGTERM);
  CHECK(child.wait_exit() == 0);
  std::istringstream err{child.err()};
  int records = 0;
  bool saw_start = false;
  for (std::string line; std::getline(err, line);) {
    if (!line.starts_with("{"))
      continue;  // say()/carp() and the fixture's own lines are not log records
    CAPTURE(line);
    auto record = nlohmann::json::parse(line);  // throws (and fails the case) if not JSON
    ++records;
    CHECK(record.contains("time"));
    CHECK(record.contains("pid"));
    if (record.value("service", "") == "FixtureWorker" && record["message"] == "Starting...") {
      saw_start = true;
      CHECK(record["level"] == "INFO");
      CHECK(record["logger"] == "mode.services");
    }
  }
  CHECK(records >= 2);
  CHECK(saw_start);
}

TEST_CASE(
    "under systemd (NOTIFY_SOCKET): READY once started, watchdog pings, STOPPING at a "
    "signal" *
    doctest::timeout(120)) {
  temp_dir dir;
  auto path = dir.path / "notify.sock";
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } close_fd{fd};
  auto addr = unix_address(path);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  auto next = [fd](std::chrono::milliseconds limit = 30s) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0)
      return std::string{};
    char buf[4096];
    auto n = ::recv(fd, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string{};
  };
  child_process child{{"sleeper"}, {"NOTIFY_SOCKET=" + path.native(), "WATCHDOG_USEC=400000"}};
  CHECK(next() == "READY=1\nSTATUS=Running (1 service)");
  CHECK(next() == "WATCHDOG=1");
  CHECK(next() == "WATCHDOG=1");
  child.signal(SIGTERM);
  std::string stopping;
  for (int i = 0; i < 50 && !stopping.starts_with("STOPPING=1"); ++i)
    stopping = next();  // watchdog pings may come first
  CHECK(stopping == "STOPPING=1\nSTATUS=Signal received: SIGTERM (15)");
  CHECK(child.wait_exit() == 0);
}

namespace {

/// The port of the worker's "Web on http://127.0.0.1:PORT/" log line, 0 if none.
std::uint16_t web_port_of(const std::string& err) {
  constexpr std::string_view prefix = "Web on http://127.0.0.1:";
  auto pos = err.find(prefix);
  if (pos == std::string::npos)
    return 0;
  return static_cast<std::uint16_t>(std::stoi(err.substr(pos + prefix.size())));
}

/// GET `path` until it answers `status` (the worker may still be starting), within 30 s.
httplib::Result get_until(httplib::Client& client, const std::string& path, int status) {
  auto deadline = steady::now() + 30s;
  for (;;) {
    auto res = client.Get(path);
    if ((res && res->status == status) || steady::now() > deadline)
      return res;
    std::this_thread::sleep_for(50ms);
  }
}

}  // namespace

TEST_CASE("--web-port: /healthz, /metrics and the tree of a running worker; 127.0.0.1 only" *
          doctest::timeout(120)) {
  child_process child{{"sleeper", "--web-port=0", "--loglevel=info"}};
  REQUIRE(child.wait_for("Web on http://127.0.0.1:"));
  REQUIRE(child.wait_for("FIXTURE ready"));
  auto port = web_port_of(child.err());
  REQUIRE(port != 0);
  httplib::Client client{"127.0.0.1", port};
  client.set_read_timeout(10, 0);
  auto health = get_until(client, "/healthz", 200);
  REQUIRE(health);
  CHECK(health->status == 200);
  auto metrics = client.Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->body.find("mode_service_up{service=\"Sleeper\",path=\"0.0\"} 1") !=
        std::string::npos);
  CHECK(metrics->body.find("mode_actors_running ") != std::string::npos);
  auto tree = nlohmann::json::parse(client.Get("/api/tree")->body);
  CHECK(tree["label"] == "FixtureWorker");
  CHECK(tree["children"][0]["label"] == "Sleeper");
  child.signal(SIGTERM);
  CHECK(child.wait_exit() == 0);
}

TEST_CASE("the status page in headless Chromium draws the running tree" * doctest::timeout(180)) {
  child_process child{{"sleeper", "--web-port=0", "--loglevel=info"}};
  REQUIRE(child.wait_for("Web on http://127.0.0.1:"));
  REQUIRE(child.wait_for("FIXTURE ready"));
  auto port = web_port_of(child.err());
  REQUIRE(port != 0);
  httplib::Client client{"127.0.0.1", port};
  REQUIRE(get_until(client, "/healthz", 200));
  // The DOM after the page's script ran: its SVG nodes carry label and state.
  auto dom_file = std::filesystem::temp_directory_path() /
                  ("mode_status_page_" + std::to_string(::getpid()) + ".html");
  auto command = fmt::format(
      "timeout -k 5 120 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
      "--no-first-run --user-data-dir={} --virtual-time-budget=5000 --dump-dom "
      "http://127.0.0.1:{}/ > {} 2>/dev/null",
      (std::filesystem::temp_directory_path() / ("mode-chromium-" + std::to_string(::getpid())))
          .native(),
      port, dom_file.native());
  int rc = std::system(command.c_str());
  std::ifstream in{dom_file};
  std::stringstream dom;
  dom << in.rdbuf();
  std::filesystem::remove(dom_file);
  CAPTURE(command);
  REQUIRE(rc == 0);
  auto html = dom.str();
  CHECK(html.find(R"(class="node" data-label="FixtureWorker" data-state="running")") !=
        std::string::npos);
  CHECK(html.find(R"(class="node" data-label="Sleeper" data-state="running")") !=
        std::string::npos);
  CHECK(html.find(R"(<tr class="service" data-label="Sleeper" data-state="running">)") !=
        std::string::npos);
  child.signal(SIGTERM);
  CHECK(child.wait_exit() == 0);
}

TEST_CASE("--logfile sends the log to the file" * doctest::timeout(120)) {
  auto path = std::filesystem::temp_directory_path() /
              ("mode_worker_test_" + std::to_string(::getpid()) + ".log");
  std::filesystem::remove(path);
  {
    child_process child{{"log", "--logfile=" + path.string(), "--loglevel=info"}};
    REQUIRE(child.wait_for("FIXTURE ready"));
    child.signal(SIGTERM);
    CHECK(child.wait_exit() == 0);
    CHECK_FALSE(contains(child.err(), "fixture log line"));
  }
  std::ifstream in{path};
  std::stringstream text;
  text << in.rdbuf();
  CHECK(contains(text.str(), "[WARNING]: [^-Logger]: fixture log line"));
  CHECK(contains(text.str(), "[INFO]: [^FixtureWorker]: Starting..."));
  std::filesystem::remove(path);
}

TEST_CASE("redirect_stdouts sends std::cout into the log; say() still reaches stdout" *
          doctest::timeout(120)) {
  auto path = std::filesystem::temp_directory_path() /
              ("mode_worker_redirect_" + std::to_string(::getpid()) + ".log");
  std::filesystem::remove(path);
  {
    child_process child{{"log", "--logfile=" + path.string()}};
    REQUIRE(child.wait_for("FIXTURE ready"));
    child.signal(SIGTERM);
    CHECK(child.wait_exit() == 0);
    CHECK(child.out() == "fixture say\n");
  }
  std::ifstream in{path};
  std::stringstream text;
  text << in.rdbuf();
  CHECK(contains(text.str(), "[WARNING]: fixture stdout line"));
  std::filesystem::remove(path);
}

TEST_CASE("a log file that cannot be opened fails the start: exit 1" * doctest::timeout(120)) {
  child_process child{{"clean", "--logfile=/dev/null/worker.log"}};
  CHECK(child.wait_exit() == 1);
  CHECK(contains(child.err(), "CANNOT SETUP LOGGING: "));
  CHECK(contains(child.err(), "/dev/null/worker.log"));
  CHECK_FALSE(contains(child.err(), "FIXTURE started"));
}

TEST_CASE("--quiet silences say and carp" * doctest::timeout(120)) {
  child_process child{{"clean", "--quiet"}};
  REQUIRE(child.wait_for("FIXTURE ready"));
  child.signal(SIGINT);
  CHECK(child.wait_exit() == 0);
  CHECK_FALSE(contains(child.err(), "-INT-"));
  CHECK(child.out().empty());
}

namespace {

/// The number after `prefix` in `text` (a fixture's "node NAME port N"), 0 if none.
std::uint16_t number_after(const std::string& text, const std::string& prefix) {
  auto pos = text.find(prefix);
  if (pos == std::string::npos)
    return 0;
  return static_cast<std::uint16_t>(std::stoi(text.substr(pos + prefix.size())));
}

}  // namespace

TEST_CASE(
    "--node-port: a worker joins a cluster on loopback; a supervisor holds a child on its peer" *
    doctest::timeout(120)) {
  mode::testing::child_process peer{MODE_NODE_FIXTURE, {"b"}};
  REQUIRE(peer.wait_for("node b port ", 30s, true));
  REQUIRE(peer.wait_for("\n", 30s, true));
  auto peer_port = number_after(peer.out(), "node b port ");
  REQUIRE(peer_port != 0);
  child_process child{{"node", "--node-port=0", "--node-name=w", "--web-port=0", "--loglevel=info",
                       "--peers=127.0.0.1:" + std::to_string(peer_port)}};
  REQUIRE(child.wait_for("FIXTURE ready"));
  auto node_port = number_after(child.err(), "FIXTURE node w port ");
  REQUIRE(node_port != 0);
  CHECK(mode::testing::listens_on_loopback_only(node_port));
  CHECK(contains(child.err(), fmt::format("Node w on 127.0.0.1:{}; peers: b (127.0.0.1:{})",
                                          node_port, peer_port)));
  // The status page (as the console and the graph) names the node and the remote child's.
  httplib::Client client{"127.0.0.1", web_port_of(child.err())};
  client.set_read_timeout(10, 0);
  REQUIRE(get_until(client, "/healthz", 200));
  auto tree = nlohmann::json::parse(client.Get("/api/tree")->body);
  CHECK(tree["label"] == "NodeWorker@w");
  auto& held = tree["children"][0]["children"][0];
  CHECK(held["label"] == "Fetcher@b");
  CHECK(held["state"] == "running");
  child.signal(SIGTERM);
  CHECK(child.wait_exit() == 0);
  peer.signal(SIGTERM);
  CHECK(peer.wait_exit() == 0);
}

TEST_CASE("a peer that nothing answers for fails the start: exit 1 naming it, nothing started" *
          doctest::timeout(120)) {
  // A port that was free a moment ago: nothing listens there.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  auto port = ntohs(addr.sin_port);
  ::close(fd);
  child_process child{{"node", "--peers=127.0.0.1:" + std::to_string(port), "--request-timeout=2"}};
  CHECK(child.wait_exit() == 1);
  CHECK(contains(child.err(), "Cannot join the cluster: "));
  CHECK(contains(child.err(), fmt::format("127.0.0.1:{}", port)));
  CHECK_FALSE(contains(child.err(), "FIXTURE execute"));
}
