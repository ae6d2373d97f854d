// Cases of mode's tests/unit/test_services.py that no concept's own test file covers,
// each named after the mode test it comes from. (The rest of that module is ported in
// service_test.cpp, service_wait_test.cpp, service_timer_test.cpp, service_crontab_test.cpp,
// diag_test.cpp and task_test.cpp, under the same "mode: unit/test_services.py::" names;
// what is Python-only is listed in docs/porting-guide.md, "Not ported".)
#include <doctest/doctest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "mode/errors.hpp"
#include "mode/service.hpp"
#include "mode/service_handle.hpp"
#include "mode/testing.hpp"
#include "mode/wait.hpp"

using namespace std::chrono_literals;
using mode::ServiceState;
using mode::task;
using mode::testing::virtual_time_fixture;

namespace {

class Plain : public mode::Service {};

class Child : public mode::Service {};

class WithInitDependencies : public mode::Service {
 public:
  std::shared_ptr<Child> child = std::make_shared<Child>();
  std::vector<std::shared_ptr<Service>> on_init_dependencies() override { return {child}; }
};

/// Runs `body` once started, on its actor; records what it saw.
class Probe : public mode::Service {
 public:
  std::function<task<void>(Probe&)> body;
  std::vector<std::string> log;
  Probe() { add_task(&Probe::run, "Probe.run"); }
  task<void> run() { co_await body(*this); }
  task<void> fail_after(std::chrono::milliseconds d) {
    co_await sleep(d);
    throw std::runtime_error("first to finish, with an error");
  }
  task<void> sleep_task(std::chrono::seconds d) { co_await sleep(d); }
};

}  // namespace

TEST_CASE("mode: unit/test_services.py::test_repr: a service's label is its class name" *
          doctest::timeout(10)) {
  Plain plain;
  CHECK(plain.label() == "Plain");
  CHECK(plain.shortlabel() == "Plain");
}

TEST_CASE("mode: unit/test_services.py::test_should_stop_returns_true_if_crashed" *
          doctest::timeout(10)) {
  virtual_time_fixture fx;
  auto h = fx.spawn<Plain>();
  fx.start(h);
  auto svc = h.service();
  CHECK_FALSE(svc->should_stop());
  fx.crash(h, "bad");
  CHECK(svc->crashed());
  CHECK(svc->should_stop());
}

TEST_CASE("mode: unit/test_services.py::test_crash__already_crashed: the first reason stays" *
          doctest::timeout(10)) {
  virtual_time_fixture fx;
  auto h = fx.spawn<Plain>();
  fx.start(h);
  auto svc = h.service();
  fx.crash(h, "first");
  fx.crash(h, "second");  // its actor is gone: nothing to crash
  CHECK(mode::describe_exception(svc->crash_reason()) == "first");
}

TEST_CASE(
    "mode: unit/test_services.py::test__actually_start__add_dependencies: "
    "on_init_dependencies at the first start" *
    doctest::timeout(10)) {
  virtual_time_fixture fx;
  auto svc = std::make_shared<WithInitDependencies>();
  mode::ServiceHandle h{fx.sys, svc};
  CHECK(svc->children().empty());
  fx.start(h);
  REQUIRE(svc->children().size() == 1);
  CHECK(svc->children()[0] == svc->child);
  CHECK(svc->child->state() == ServiceState::running);  // the test thread runs every actor
  fx.stop(h);
}

TEST_CASE("mode: unit/test_services.py::test_start_stop: maybe_start starts once" *
          doctest::timeout(10)) {
  virtual_time_fixture fx;
  auto svc = std::make_shared<Probe>();
  svc->body = [](Probe& p) -> task<void> {
    bool again = co_await p.maybe_start();
    p.log.push_back(again ? "started again" : "already started");
  };
  mode::ServiceHandle h{fx.sys, svc};
  fx.start(h);
  CHECK(svc->log == std::vector<std::string>{"already started"});
  fx.stop(h);
}

TEST_CASE("mode: unit/test_services.py::test_wait_first__propagates_exceptions" *
          doctest::timeout(10)) {
  virtual_time_fixture fx;
  auto svc = std::make_shared<Probe>();
  svc->body = [](Probe& p) -> task<void> {
    std::vector<mode::Waitable> racers{p.fail_after(10ms), p.sleep_task(1h)};
    try {
      co_await p.wait_first(racers);
      p.log.push_back("no exception");
    } catch (const std::runtime_error& e) {
      p.log.push_back(e.what());
    }
  };
  mode::ServiceHandle h{fx.sys, svc};
  fx.start(h);
  fx.advance(50ms);
  CHECK(svc->log == std::vector<std::string>{"first to finish, with an error"});
  fx.stop(h);
}
