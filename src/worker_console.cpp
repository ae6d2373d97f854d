// The Worker's debug console: a line protocol over TCP on 127.0.0.1, POSIX sockets.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <system_error>
#include <thread>

#include <fmt/format.h>

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
  if (cmd == "tree" || cmd == "tasks" || cmd == "graph") {
    try {
      auto root = snapshot();
      if (cmd == "tree")
        return {render_tree(root), false};
      if (cmd == "tasks")
        return {render_tasks(root), false};
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

constexpr std::size_t max_line = 4096;
constexpr std::size_t max_clients = 16;

constexpr std::string_view greeting =
    "mode-cpp console. Commands: help, tree, tasks, graph, quit.\n";

struct client {
  int fd = -1;
  std::string in;
  std::string out;
  bool discarding = false;  // inside an over-long line: drop until its newline
  bool closing = false;     // close once `out` is sent
};

}  // namespace

struct Console::impl {
  int listen_fd = -1;
  int wake_read = -1;
  int wake_write = -1;
  std::function<ServiceNode()> snapshot;
  std::atomic<bool> stopping{false};
  std::vector<client> clients;
  std::thread thread;

  ~impl() {
    for (auto& c : clients)
      ::close(c.fd);
    for (int fd : {listen_fd, wake_read, wake_write})
      if (fd >= 0)
        ::close(fd);
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

  // Returns false when the client is gone.
  bool on_readable(client& c) {
    char buf[1024];
    for (;;) {
      auto n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n == 0)
        return false;
      if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
      c.in.append(buf, static_cast<std::size_t>(n));
      std::size_t pos;
      while (!c.closing && (pos = c.in.find('\n')) != std::string::npos) {
        auto line = c.in.substr(0, pos);
        c.in.erase(0, pos + 1);
        if (std::exchange(c.discarding, false))
          continue;
        on_line(c, line);
      }
      if (c.in.size() > max_line) {
        c.in.clear();
        if (!c.discarding) {
          c.discarding = true;
          c.out += fmt::format("error: line too long (max {} bytes)\n", max_line);
          c.out += prompt;
        }
      }
    }
  }

  // Returns false when the client is gone or done.
  bool on_writable(client& c) {
    while (!c.out.empty()) {
      auto n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
      c.out.erase(0, static_cast<std::size_t>(n));
    }
    return !c.closing;
  }

  void on_accept() {
    for (;;) {
      int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0)
        return;
      if (clients.size() >= max_clients) {
        constexpr std::string_view busy = "error: too many connections\n";
        (void)::send(fd, busy.data(), busy.size(), MSG_NOSIGNAL);
        ::close(fd);
        continue;
      }
      client c;
      c.fd = fd;
      c.out = std::string{greeting} + std::string{prompt};
      clients.push_back(std::move(c));
    }
  }

  void serve() {
    std::vector<pollfd> fds;
    while (!stopping.load()) {
      fds.clear();
      fds.push_back({wake_read, POLLIN, 0});
      fds.push_back({listen_fd, POLLIN, 0});
      for (auto& c : clients)
        fds.push_back({c.fd, static_cast<short>(POLLIN | (c.out.empty() ? 0 : POLLOUT)), 0});
      if (::poll(fds.data(), fds.size(), -1) < 0) {
        if (errno == EINTR)
          continue;
        return;
      }
      if (fds[0].revents != 0)
        return;  // woken to stop
      // Clients first: fds[2 + i] belongs to clients[i] until accept appends more.
      std::vector<client> alive;
      for (std::size_t i = 0; i < clients.size(); ++i) {
        auto& c = clients[i];
        auto ev = fds[2 + i].revents;
        bool keep = true;
        if ((ev & (POLLIN | POLLHUP | POLLERR)) != 0)
          keep = on_readable(c);
        if (keep)
          keep = on_writable(c);
        if (keep)
          alive.push_back(std::move(c));
        else
          ::close(c.fd);
      }
      clients = std::move(alive);
      if ((fds[1].revents & POLLIN) != 0)
        on_accept();
      // Greetings of new clients go out on the next round, when poll says writable.
    }
  }
};

Console::Console(std::uint16_t port, std::function<ServiceNode()> snapshot)
    : impl_(std::make_unique<impl>()) {
  auto fail = [port](const char* what) {
    int err = errno;
    throw std::system_error(err, std::generic_category(),
                            fmt::format("mode console: cannot {} 127.0.0.1:{}", what, port));
  };
  impl_->snapshot = std::move(snapshot);
  impl_->listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (impl_->listen_fd < 0)
    fail("open a socket for");
  int one = 1;
  ::setsockopt(impl_->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // loopback only: no remote access
  if (::bind(impl_->listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
    fail("listen on");
  if (::listen(impl_->listen_fd, 16) < 0)
    fail("listen on");
  socklen_t len = sizeof addr;
  ::getsockname(impl_->listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  int wake[2];
  if (::pipe2(wake, O_CLOEXEC | O_NONBLOCK) < 0)
    fail("make a wake-up pipe for");
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
