// A program outside mode-cpp's tree, built against the installed package: it proves
// that the headers, libmodecpp and its dependencies (CAF, spdlog, fmt, date) are all
// found through find_package(modecpp) alone, and that a service starts and stops.
#include <mode/mode.hpp>

#include <cstdio>

namespace {

class Hello : public mode::Service {
 public:
  mode::task<void> on_started() override {
    started = true;
    co_return;
  }
  bool started = false;
};

}  // namespace

int main() {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto svc = std::make_shared<Hello>();
  mode::ServiceHandle h{sys, svc};
  h.start();
  h.stop();
  if (!svc->started || h.state() != mode::ServiceState::shutdown) {
    std::puts("consumer: the service did not start and stop");
    return 1;
  }
  std::puts("consumer: ok");
  return 0;
}
