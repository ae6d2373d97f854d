// The Worker's debug console: a line protocol over a Unix socket (mode 0600) or TCP on
// 127.0.0.1, POSIX sockets.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <thread>

#include <fmt/format.h>

#include "mode/metrics.hpp"
#include "mode/worker.hpp"

namespace mode {

// -- protocol ---------------------------------------------------------------------------------

namespace {

constexpr std::string_view help_text =
    "Commands:\n"
    "  help   this list\n"
    "  tree   the services: state, restart count, diag flags\n"
    "  tasks  every service's pending tasks and where they wait (file:line)\n"
    "  graph  the service tree as Graphviz DOT\n"
    "  stats  metrics in Prometheus' text format (as /metrics serves them)\n"
    "  quit   close this connection (also: exit)\n";

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

}  // namespace

ConsoleReply console_reply(std::string_view line, const std::function<ServiceNode()>& snapshot) {
  auto trimmed = trim(line);
  std::string cmd{trimmed};
  std::transform(cmd.begin(), cmd.end(), cmd.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (cmd.empty())
    return {};
  if (cmd == "help")
    return {std::string{help_text}, false};
  if (cmd == "quit" || cmd == "exit")
    return {"bye\n", true};
  if (cmd == "tree" || cmd == "tasks" || cmd == "graph" || cmd == "stats") {
    try {
      auto root = snapshot();
      if (cmd == "tree")
        return {render_tree(root), false};
      if (cmd == "tasks")
        return {render_tasks(root), false};
      if (cmd == "stats")
        return {render_metrics(root, process_stats(), signal_stats()), false};
      return {to_dot(root), false};
    } catch (const std::exception& e) {
      return {fmt::format("error: {} failed: {}\n", cmd, e.what()), false};
    }
  }
  // Printable in the reply even when the client sent control characters.
  std::string shown;
  for (char c : trimmed.substr(0, 64))
    shown += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
  return {fmt::format("error: unknown command '{}' (try 'help')\n", shown), false};
}

// -- Console ----------------------------------------------------------------------------------

namespace {

constexpr std::string_view greeting =
    "mode-cpp console. Commands: help, tree, tasks, graph, stats, quit.\n";

/// Per client and round of poll: what one client may cost before the others (and a
/// stop) get their turn.
constexpr std::size_t reads_per_round = 4;
constexpr std::size_t lines_per_round = 32;

using steady = std::chrono::steady_clock;

struct client {
  int fd = -1;
  std::string in;
  std::string out;
  steady::time_point last_active;
  bool discarding = false;   // inside an over-long line: drop until its newline
  bool closing = false;      // close once `out` is sent (quit, idle)
  bool read_closed = false;  // the peer sent all it will (EOF): answer, then close
};

}  // namespace

struct Console::impl {
  int listen_fd = -1;
  int wake_read = -1;
  int wake_write = -1;
  ConsoleLimits limits;
  std::function<ServiceNode()> snapshot;
  std::atomic<bool> stopping{false};
  std::vector<client> clients;
  std::thread thread;

  std::filesystem::path socket_path;  // a Unix socket's file, removed at the end
  ino_t socket_inode = 0;             // ... unless another console replaced it since

  ~impl() {
    for (auto& c : clients)
      ::close(c.fd);
    for (int fd : {listen_fd, wake_read, wake_write})
      if (fd >= 0)
        ::close(fd);
    struct stat st {};
    if (!socket_path.empty() && ::lstat(socket_path.c_str(), &st) == 0 && st.st_ino == socket_inode)
      ::unlink(socket_path.c_str());
  }

  /// Reads while the client has room for answers: a client that sends and never reads
  /// stops being read once its answers pile up (the kernel's buffers then hold it back).
  [[nodiscard]] bool wants_input(const client& c) const { return can_answer(c) && !c.read_closed; }
  [[nodiscard]] bool can_answer(const client& c) const {
    return !c.closing && c.out.size() < limits.max_pending_output;
  }
  /// Complete lines wait that it can answer now (left over from a full round).
  [[nodiscard]] bool has_work(const client& c) const {
    return can_answer(c) && c.in.find('\n') != std::string::npos;
  }

  void on_line(client& c, std::string_view line) {
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    auto reply = console_reply(line, snapshot);
    c.out += reply.text;
    if (reply.close)
      c.closing = true;
    else
      c.out += prompt;
  }

  /// Answers the complete lines received, at most lines_per_round of them.
  void take_lines(client& c) {
    std::size_t pos = 0;
    for (std::size_t taken = 0;
         taken < lines_per_round && can_answer(c) && (pos = c.in.find('\n')) != std::string::npos;
         ++taken) {
      auto line = c.in.substr(0, pos);
      c.in.erase(0, pos + 1);
      if (std::exchange(c.discarding, false))
        continue;
      on_line(c, line);
    }
    if (c.in.size() > limits.max_line && c.in.find('\n') == std::string::npos) {
      c.in.clear();
      if (!c.discarding) {
        c.discarding = true;
        c.out += fmt::format("error: line too long (max {} bytes)\n", limits.max_line);
        c.out += prompt;
      }
    }
  }

  /// Returns false when the connection failed.
  bool on_readable(client& c, steady::time_point now) {
    char buf[4096];
    for (std::size_t i = 0; i < reads_per_round && wants_input(c); ++i) {
      auto n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n == 0) {
        c.read_closed = true;  // half-closed (`nc -N`): what it asked is still answered
        break;
      }
      if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
      c.last_active = now;
      c.in.append(buf, static_cast<std::size_t>(n));
      take_lines(c);
    }
    return true;
  }

  /// Returns false when the client is gone or done.
  bool on_writable(client& c, steady::time_point now) {
    while (!c.out.empty()) {
      auto n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
      c.last_active = now;
      c.out.erase(0, static_cast<std::size_t>(n));
    }
    return !(c.closing || (c.read_closed && c.in.find('\n') == std::string::npos));
  }

  void on_accept(steady::time_point now) {
    for (;;) {
      int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0)
        return;
      if (clients.size() >= limits.max_clients) {
        constexpr std::string_view busy = "error: too many connections\n";
        (void)::send(fd, busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        ::close(fd);
        continue;
      }
      client c;
      c.fd = fd;
      c.last_active = now;
      c.out = std::string{greeting} + std::string{prompt};
      clients.push_back(std::move(c));
    }
  }

  /// Milliseconds until the first client's idle deadline (-1: no client, 0: lines
  /// are waiting for an answer).
  [[nodiscard]] int poll_timeout(steady::time_point now) const {
    if (clients.empty())
      return -1;
    if (std::any_of(clients.begin(), clients.end(), [this](auto& c) { return has_work(c); }))
      return 0;
    auto first = std::min_element(clients.begin(), clients.end(), [](auto& a, auto& b) {
                   return a.last_active < b.last_active;
                 })->last_active;
    auto left = std::chrono::ceil<std::chrono::milliseconds>(first + limits.idle_timeout - now);
    return static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 60'000));
  }

  void serve() {
    std::vector<pollfd> fds;
    while (!stopping.load()) {
      fds.clear();
      fds.push_back({wake_read, POLLIN, 0});
      fds.push_back({listen_fd, POLLIN, 0});
      for (auto& c : clients) {
        short events = 0;
        if (wants_input(c))
          events |= POLLIN;
        if (!c.out.empty())
          events |= POLLOUT;
        fds.push_back({c.fd, events, 0});
      }
      if (::poll(fds.data(), fds.size(), poll_timeout(steady::now())) < 0) {
        if (errno == EINTR)
          continue;
        return;
      }
      if (fds[0].revents != 0)
        return;  // woken to stop
      auto now = steady::now();
      // Clients first: fds[2 + i] belongs to clients[i] until accept appends more.
      std::vector<client> alive;
      for (std::size_t i = 0; i < clients.size(); ++i) {
        auto& c = clients[i];
        auto ev = fds[2 + i].revents;
        bool keep = (ev & POLLERR) == 0;
        if (keep && (ev & (POLLIN | POLLHUP)) != 0 && wants_input(c))
          keep = on_readable(c, now);
        if (keep && has_work(c))
          take_lines(c);  // lines left over from a round that hit lines_per_round
        if (keep && now - c.last_active >= limits.idle_timeout) {
          // Idle connections would hold the slots operators need.
          c.out += fmt::format("error: idle for {} s, closing\n",
                               std::chrono::duration<double>(limits.idle_timeout).count());
          c.closing = true;
          (void)on_writable(c, now);
          keep = false;
        }
        if (keep)
          keep = on_writable(c, now);
        if (keep)
          alive.push_back(std::move(c));
        else
          ::close(c.fd);
      }
      clients = std::move(alive);
      if ((fds[1].revents & POLLIN) != 0)
        on_accept(now);
      // Greetings of new clients go out on the next round, when poll says writable.
    }
  }
};

namespace {

[[noreturn]] void fail_to(const char* what, const std::string& where) {
  int err = errno;
  throw std::system_error(err, std::generic_category(),
                          fmt::format("mode console: cannot {} {}", what, where));
}

void validate(const ConsoleLimits& limits) {
  if (limits.max_line == 0 || limits.max_clients == 0 || limits.max_pending_output == 0 ||
      limits.idle_timeout <= std::chrono::milliseconds::zero())
    throw std::invalid_argument(
        fmt::format("mode console: limits must be positive (max_line {}, max_clients {}, "
                    "max_pending_output {}, idle_timeout {} ms)",
                    limits.max_line, limits.max_clients, limits.max_pending_output,
                    limits.idle_timeout.count()));
}

sockaddr_un unix_address(const std::filesystem::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const auto& text = path.native();
  if (text.empty() || text.size() >= sizeof addr.sun_path)
    throw std::invalid_argument(
        fmt::format("mode console: socket path '{}' must be 1 to {} bytes long (it is {})", text,
                    sizeof addr.sun_path - 1, text.size()));
  std::copy(text.begin(), text.end(), addr.sun_path);
  return addr;
}

/// A socket file left by a process that died is replaced; one that a live console
/// answers on, or a file that is no socket, is not touched.
void clear_stale_socket(const std::filesystem::path& path, const sockaddr_un& addr) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0)
    return;  // nothing there
  if (!S_ISSOCK(st.st_mode)) {
    errno = EEXIST;
    fail_to("listen on (a file that is not a socket is in the way)", path.native());
  }
  int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0)
    fail_to("open a socket for", path.native());
  bool live = ::connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(probe);
  if (live) {
    errno = EADDRINUSE;
    fail_to("listen on (another process answers there)", path.native());
  }
  ::unlink(path.c_str());
}

}  // namespace

Console::Console(std::uint16_t port, std::function<ServiceNode()> snapshot, ConsoleLimits limits)
    : impl_(std::make_unique<impl>()) {
  validate(limits);
  impl_->limits = limits;
  impl_->snapshot = std::move(snapshot);
  auto where = fmt::format("127.0.0.1:{}", port);
  impl_->listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (impl_->listen_fd < 0)
    fail_to("open a socket for", where);
  int one = 1;
  ::setsockopt(impl_->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // loopback only: no remote access
  if (::bind(impl_->listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
    fail_to("listen on", where);
  if (::listen(impl_->listen_fd, 16) < 0)
    fail_to("listen on", where);
  socklen_t len = sizeof addr;
  ::getsockname(impl_->listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  start_serving(where);
}

Console::Console(std::filesystem::path socket_path, std::function<ServiceNode()> snapshot,
                 ConsoleLimits limits)
    : impl_(std::make_unique<impl>()) {
  validate(limits);
  impl_->limits = limits;
  impl_->snapshot = std::move(snapshot);
  auto addr = unix_address(socket_path);
  clear_stale_socket(socket_path, addr);
  impl_->listen_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (impl_->listen_fd < 0)
    fail_to("open a socket for", socket_path.native());
  // Linux creates the socket file with the mode of the unbound socket (less the umask),
  // so it is never reachable by others, not even between bind() and chmod().
  ::fchmod(impl_->listen_fd, S_IRUSR | S_IWUSR);
  if (::bind(impl_->listen_fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) < 0)
    fail_to("listen on", socket_path.native());
  struct stat st {};
  if (::chmod(socket_path.c_str(), S_IRUSR | S_IWUSR) < 0 || ::stat(socket_path.c_str(), &st) < 0) {
    int err = errno;
    ::unlink(socket_path.c_str());
    errno = err;
    fail_to("set mode 0600 on", socket_path.native());
  }
  impl_->socket_path = socket_path;
  impl_->socket_inode = st.st_ino;
  if (::listen(impl_->listen_fd, 16) < 0)
    fail_to("listen on", socket_path.native());
  socket_path_ = std::move(socket_path);
  start_serving(socket_path_.native());
}

void Console::start_serving(const std::string& where) {
  int wake[2];
  if (::pipe2(wake, O_CLOEXEC | O_NONBLOCK) < 0)
    fail_to("make a wake-up pipe for", where);
  impl_->wake_read = wake[0];
  impl_->wake_write = wake[1];
  impl_->thread = std::thread{[this] {
    impl_->serve();
  }};
}

Console::~Console() {
  impl_->stopping.store(true);
  char byte = 1;
  (void)::write(impl_->wake_write, &byte, 1);
  if (impl_->thread.joinable())
    impl_->thread.join();
}

}  // namespace mode
