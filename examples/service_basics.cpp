// service_basics: one Service with a background task, a timer and a child, started
// and stopped from main through a ServiceHandle. Shows the lifecycle log lines.
//
// Run: ./build/examples/service_basics
#include <mode/mode.hpp>

#include <thread>

using namespace std::chrono_literals;

class Fetcher : public mode::Service {
 public:
  mode::task<void> on_start() override {
    log().info("connecting");
    co_return;
  }
};

class Poller : public mode::Service {
 public:
  Poller() {
    add_dependency(std::make_shared<Fetcher>());
    add_task(&Poller::poll, "Poller.poll");
    timer(200ms, &Poller::report);
  }

 private:
  mode::task<void> poll() {
    while (!should_stop()) {
      co_await sleep(50ms);
      ++fetched_;
    }
  }
  mode::task<void> report() {
    log().info("fetched {}", fetched_);
    co_return;
  }
  int fetched_ = 0;
};

int main() {
  mode::setup_logging({.log_level = "info"});
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  mode::ServiceScope scope{sys};  // after sys: stops the poller on every way out of main
  auto poller = scope.spawn<Poller>();
  poller.start();
  std::this_thread::sleep_for(700ms);
  poller.stop();
  return poller.state() == mode::ServiceState::shutdown ? 0 : 1;
}

// Expected output (timestamps and pid vary):
// [...] [INFO] [^Poller]: Starting...
// [...] [INFO] [^-Fetcher]: Starting...
// [...] [INFO] [^-Fetcher]: connecting
// [...] [INFO] [^Poller]: fetched 3
// [...] [INFO] [^Poller]: fetched 7
// [...] [INFO] [^Poller]: fetched 11
// [...] [INFO] [^Poller]: Stopping...
// [...] [INFO] [^-Fetcher]: Stopping...
// [...] [INFO] [^-Fetcher]: -Stopped!
// [...] [INFO] [^Poller]: -Stopped!
