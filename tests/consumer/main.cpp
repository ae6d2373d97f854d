// A program outside mode-cpp's tree, built against the installed package: it proves
// that the headers, libmodecpp and its dependencies (CAF, spdlog, fmt, date) are all
// found through find_package(modecpp) alone.
#if __has_include(<mode/mode.hpp>)
#include <mode/mode.hpp>
#else
#include <mode/service.hpp>
#include <mode/service_handle.hpp>
#endif

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <cstdio>

int main() {
  // TODO(lead): construct, start and stop a mode::Service here (through the umbrella
  // header <mode/mode.hpp>); until then an actor system checks that CAF comes along.
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  std::puts("consumer: ok");
  return 0;
}
