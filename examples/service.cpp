// service: mode's examples/service.py in C++. A Worker runs one service with a
// background task that wakes every second, until Ctrl-C (SIGINT) or SIGTERM.
//
// Run: ./build/examples/service          (Ctrl-C to stop; --help for the options)
//
// As in mode, the Worker redirects std::cout into the log (redirect_stdouts), so the
// task's lines arrive on stderr as WARNING records beside the service's own log.
#include <mode/mode.hpp>

#include <iostream>

class MyService : public mode::Service {
 public:
  MyService() { add_task(&MyService::background_task, "MyService.background_task"); }

 private:
  mode::task<void> on_started() override {
    log().info("Service started (hit ctrl+C to exit).");
    co_return;
  }

  mode::task<void> background_task() {
    std::cout << "BACKGROUND TASK STARTING" << std::endl;
    while (!should_stop()) {
      co_await sleep(1.0);
      std::cout << "BACKGROUND SERVICE WAKING UP" << std::endl;
    }
  }
};

int main(int argc, char** argv) {
  mode::Worker worker{{std::make_shared<MyService>()},
                      {.log_level = "INFO",
                       .log_file = {},  // stderr
                       // a daemon worker runs until it is explicitly stopped
                       .daemon = true}};
  return worker.execute_from_commandline(argc, argv);
}
