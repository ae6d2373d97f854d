// A small program built on mode::Worker that tests/worker_test.cpp runs as a child
// process. Usage: mode_worker_fixture SCENARIO [worker options...]
//
// Scenarios: clean, crash, max-restarts, hang-stop, sleeper, block, oom, log, nodaemon, node.
// Services write "FIXTURE ..." marker lines straight to fd 2 (unbuffered, never redirected), so the
// test can follow what happened in which order.
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "mode/node.hpp"
#include "mode/remote_child.hpp"
#include "mode/supervisors.hpp"
#include "mode/worker.hpp"

using mode::task;
using namespace std::chrono_literals;

namespace {

void marker(const std::string& text) {
  auto line = "FIXTURE " + text + "\n";
  (void)::write(2, line.data(), line.size());
}

class Named : public mode::Service {
 public:
  explicit Named(std::string name) : name_(std::move(name)) {}
  std::string label() const override { return name_; }
  task<void> on_started() override {
    marker("started " + name_);
    co_return;
  }
  task<void> on_stop() override {
    marker("stopping " + name_);
    co_return;
  }

 protected:
  std::string name_;
};

// Crashes from a background task shortly after it starts.
class Crasher : public Named {
 public:
  Crasher() : Named("Crasher") {
    add_task("boom", [this]() -> task<void> {
      co_await sleep(0.05);
      throw std::runtime_error("fixture boom");
    });
  }
};

// Its on_stop never returns: it keeps its actor's thread.
class Hanger : public Named {
 public:
  Hanger() : Named("Hanger") {}
  task<void> on_stop() override {
    marker("stopping Hanger (hangs)");
    std::this_thread::sleep_for(1h);
    co_return;
  }
};

// A background task that waits for an hour: something for SIGUSR1 to show.
class Sleeper : public Named {
 public:
  Sleeper() : Named("Sleeper") {
    add_task("sleeper", [this]() -> task<void> { co_await sleep(3600); });
  }
};

// A timer callback that blocks its thread for 1.5 s, once.
class Blocker : public Named {
 public:
  Blocker() : Named("Blocker") {
    timer(0.05, [this]() -> task<void> {
      if (!blocked_) {
        blocked_ = true;
        marker("blocking");
        std::this_thread::sleep_for(1500ms);
        marker("unblocked");
      }
      co_return;
    });
  }

 private:
  bool blocked_ = false;
};

class OutOfMemory : public Named {
 public:
  OutOfMemory() : Named("OutOfMemory") {}
  task<void> on_start() override {
    throw std::bad_alloc{};
    co_return;
  }
};

class Logger : public Named {
 public:
  Logger() : Named("Logger") {}
  task<void> on_start() override {
    log().warn("fixture log line");
    // Redirected into the log (redirect_stdouts) at WARNING.
    std::cout << "fixture stdout line" << std::endl;
    co_return;
  }
};

// Announces when the whole tree is up, and its own shutdown hooks.
class FixtureWorker : public mode::Worker {
 public:
  using mode::Worker::Worker;
  task<void> on_execute() override {
    marker("execute");
    say("fixture say");  // to the real stdout, past the redirection
    co_return;
  }
  task<void> on_started() override {
    marker("ready");
    co_return;
  }
  void on_worker_shutdown() override { marker("worker_shutdown"); }
};

// "node": a worker run with node options. It offers Sleeper to its peers and, once the node
// is up, adds a Fetcher on its peers (mode_node_fixture's type) to its supervisor.
class NodeWorker : public FixtureWorker {
 public:
  NodeWorker(std::shared_ptr<mode::OneForOneSupervisor> sup, mode::WorkerOptions options)
      : FixtureWorker({sup}, std::move(options)), sup_(std::move(sup)) {}
  void on_node_started(mode::Node& node) override {
    marker("node " + node.name() + " port " + std::to_string(node.port()));
    node.register_service<Sleeper>("Sleeper");
    if (!node.peers().empty())
      sup_->add(mode::RemoteChild::make(node.peers(), "Fetcher", std::string{"fixture"}));
  }

 private:
  std::shared_ptr<mode::OneForOneSupervisor> sup_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    marker("usage: mode_worker_fixture SCENARIO [options]");
    return 2;
  }
  std::string scenario = argv[1];
  // The scenario is ours; the rest of the command line is the worker's.
  argv[1] = argv[0];
  --argc;
  ++argv;
  std::vector<std::shared_ptr<mode::Service>> services;
  mode::WorkerOptions options;
  if (scenario == "clean") {
    services = {std::make_shared<Named>("Alpha"), std::make_shared<Named>("Beta")};
  } else if (scenario == "crash") {
    services = {std::make_shared<Named>("Alpha"), std::make_shared<Crasher>()};
  } else if (scenario == "hang-stop") {
    services = {std::make_shared<Hanger>(), std::make_shared<Named>("Beta")};
  } else if (scenario == "sleeper") {
    services = {std::make_shared<Sleeper>()};
  } else if (scenario == "block") {
    services = {std::make_shared<Blocker>()};
  } else if (scenario == "oom") {
    services = {std::make_shared<OutOfMemory>()};
  } else if (scenario == "log") {
    services = {std::make_shared<Logger>()};
  } else if (scenario == "max-restarts") {
    // The supervisor gives up after two restarts within 10 s: the worker exits 1.
    mode::SupervisorOptions limits;
    limits.max_restarts = 2;
    limits.over = 10;
    auto sup = std::make_shared<mode::OneForOneSupervisor>(limits);
    sup->add(std::make_shared<Crasher>());
    services = {std::make_shared<Named>("Alpha"), sup};
  } else if (scenario == "node") {
    NodeWorker worker{std::make_shared<mode::OneForOneSupervisor>(), std::move(options)};
    auto status = worker.execute_from_commandline(argc, argv);
    marker("exit " + std::to_string(status));
    return status;
  } else if (scenario == "nodaemon") {
    services = {std::make_shared<Named>("Alpha")};
    options.daemon = false;
  } else {
    marker("unknown scenario " + scenario);
    return 2;
  }
  FixtureWorker worker{std::move(services), std::move(options)};
  auto status = worker.execute_from_commandline(argc, argv);
  marker("exit " + std::to_string(status));
  return status;
}
