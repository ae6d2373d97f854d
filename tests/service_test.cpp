// Service lifecycle: hook order, children, stop/restart, crash propagation.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "mode/service.hpp"
#include "mode/service_handle.hpp"
#include "test_support.hpp"

using namespace std::chrono_literals;
using mode::ServiceState;
using mode::task;
using mode::testing::recorder;
using mode::testing::system_fixture;

namespace {

class Recorded : public mode::Service {
 public:
  Recorded(std::string name, std::shared_ptr<recorder> rec) : name_(std::move(name)), rec_(rec) {}
  std::string label() const override { return name_; }
  task<void> on_first_start() override {
    rec_->add(name_ + ".on_first_start");
    co_return;
  }
  task<void> on_start() override {
    rec_->add(name_ + ".on_start");
    co_return;
  }
  task<void> on_started() override {
    rec_->add(name_ + ".on_started");
    co_return;
  }
  task<void> on_stop() override {
    rec_->add(name_ + ".on_stop");
    co_return;
  }
  task<void> on_shutdown() override {
    rec_->add(name_ + ".on_shutdown");
    co_return;
  }
  task<void> on_restart() override {
    rec_->add(name_ + ".on_restart");
    co_return;
  }

 protected:
  std::string name_;
  std::shared_ptr<recorder> rec_;
};

}  // namespace

TEST_CASE("hooks run in mode's order, children started in order and stopped in reverse" *
          doctest::timeout(30)) {
  system_fixture fx;
  auto rec = std::make_shared<recorder>();
  auto root = std::make_shared<Recorded>("root", rec);
  root->add_dependency(std::make_shared<Recorded>("a", rec));
  root->add_dependency(std::make_shared<Recorded>("b", rec));
  mode::ServiceHandle h{fx.sys, root};
  CHECK(h.state() == ServiceState::init);
  h.start();
  CHECK(h.state() == ServiceState::running);
  h.stop();
  CHECK(h.state() == ServiceState::shutdown);
  std::vector<std::string> expected{"root.on_first_start", "root.on_start", "a.on_first_start",
                                    "a.on_start",          "a.on_started",  "b.on_first_start",
                                    "b.on_start",          "b.on_started",  "root.on_started",
                                    "root.on_stop",        "b.on_stop",     "b.on_shutdown",
                                    "a.on_stop",           "a.on_shutdown", "root.on_shutdown"};
  CHECK(rec->events() == expected);
}
