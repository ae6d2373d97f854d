// mode::SystemdNotifier and SystemdWatchdog against a fake service manager: a Unix
// datagram socket named by NOTIFY_SOCKET, as systemd's own is.
#include "mode/systemd_notify.hpp"

#include <doctest/doctest.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

using namespace std::chrono_literals;

namespace {

/// A fake NOTIFY_SOCKET: binds a datagram socket, sets the environment while it lives.
class fake_manager {
 public:
  explicit fake_manager(const char* watchdog_usec = nullptr) {
    path_ = std::filesystem::temp_directory_path() /
            ("mode-notify-" + std::to_string(::getpid()) + ".sock");
    std::filesystem::remove(path_);
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::copy(path_.native().begin(), path_.native().end(), addr.sun_path);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    ::setenv("NOTIFY_SOCKET", path_.c_str(), 1);
    if (watchdog_usec != nullptr)
      ::setenv("WATCHDOG_USEC", watchdog_usec, 1);
  }
  ~fake_manager() {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::close(fd_);
    std::filesystem::remove(path_);
  }
  fake_manager(const fake_manager&) = delete;
  fake_manager& operator=(const fake_manager&) = delete;

  /// The next datagram, or "" after `limit`.
  std::string next(std::chrono::milliseconds limit = 10s) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0)
      return {};
    char buf[4096];
    auto n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string{};
  }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

}  // namespace

TEST_CASE("systemd: without NOTIFY_SOCKET nothing is sent and there is no watchdog" *
          doctest::timeout(10)) {
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  mode::SystemdNotifier notifier;
  CHECK_FALSE(notifier.enabled());
  CHECK_FALSE(notifier.watchdog_timeout().has_value());
  CHECK_FALSE(notifier.notify("READY=1"));
}

TEST_CASE("systemd: READY, STATUS on one line, STOPPING and WATCHDOG reach the manager" *
          doctest::timeout(30)) {
  fake_manager manager{"3000000"};
  mode::SystemdNotifier notifier;
  REQUIRE(notifier.enabled());
  REQUIRE(notifier.watchdog_timeout().has_value());
  CHECK(*notifier.watchdog_timeout() == 3s);
  notifier.ready("Running (2 services)");
  CHECK(manager.next() == "READY=1\nSTATUS=Running (2 services)");
  notifier.status("two\nlines");
  CHECK(manager.next() == "STATUS=two lines");  // a newline would start a new assignment
  notifier.watchdog();
  CHECK(manager.next() == "WATCHDOG=1");
  notifier.stopping("Signal received: SIGTERM (15)");
  CHECK(manager.next() == "STOPPING=1\nSTATUS=Signal received: SIGTERM (15)");
}

TEST_CASE("systemd: the watchdog pings at half the timeout only while the probe answers" *
          doctest::timeout(60)) {
  fake_manager manager{"200000"};  // 0.2 s: a ping every 0.1 s
  mode::SystemdNotifier notifier;
  std::atomic<bool> healthy{true};
  std::atomic<int> probes{0};
  mode::SystemdWatchdog watchdog{notifier, [&](std::chrono::microseconds bound) {
                                   CHECK(bound == 100ms);
                                   ++probes;
                                   return healthy.load();
                                 }};
  CHECK(manager.next() == "WATCHDOG=1");
  CHECK(manager.next() == "WATCHDOG=1");
  healthy = false;
  // Drain a ping that may have been in flight, then none may come while it is wedged.
  (void)manager.next(150ms);
  auto before = probes.load();
  CHECK(manager.next(1s).empty());
  CHECK(probes.load() > before);  // it kept asking
  healthy = true;
  CHECK(manager.next() == "WATCHDOG=1");
}

TEST_CASE("systemd: a watchdog setting that does not parse is ignored with a warning" *
          doctest::timeout(10)) {
  fake_manager manager{"soon"};
  mode::SystemdNotifier notifier;
  CHECK(notifier.enabled());
  CHECK_FALSE(notifier.watchdog_timeout().has_value());
}
