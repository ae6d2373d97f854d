// Cases of mode's tests/unit/test_services.py that no concept's own test file covers,
// each named after the mode test it comes from. The rest of that module is ported in
// service_test.cpp, service_wait_test.cpp, service_timer_test.cpp, service_crontab_test.cpp,
// service_scope_test.cpp (test_aenter), diag_test.cpp, task_test.cpp and
// tests/compile_fail/add_*context*.cpp, under the same "mode: unit/test_services.py::"
// names.
//
// Not ported, because they check Python or asyncio machinery with mocks rather than
// behaviour (what they stand for is covered by the cases named above, or listed in
// docs/porting-guide.md, "Not ported"):
// - test_ServiceTask.test_call / test_repr, test_get_set_loop, test_init_subclass_logger,
//   test__get_tasks__no_tasks: Python decorators, event loops and class-level loggers;
// - test_add_dependency__no_beacon, test_remove_dependency__no_beacon,
//   test_crash__recursive_loop(__no_root): mode's beacon graph (the tree here is the
//   parent/children links);
// - test__wait_stopped, test_wait_many, test_wait__no_args,
//   test_wait_first__propagates_CancelledError, test__gather_futures__raises_cancel,
//   test__maybe_wait_for_futures__{ValueError_left,ValueError_empty,CancelledError}:
//   the asyncio.wait/shield/ensure_future calls inside wait and stop;
// - test__execute_task__loop_is_closed, test__execute_task__CancelledError_stopped:
//   asyncio's closed-loop RuntimeError and task cancellation (stop cancels tasks here);
// - test_join_services(_raises): a helper outside mode's public API.
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
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

/// Records its hooks by name; a hook named in `sleeps` sleeps an hour first (a stop
/// wakes it), one named in `throws` throws.
class Hooks : public mode::Service {
 public:
  Hooks(std::string name, std::shared_ptr<std::vector<std::string>> log)
      : name_(std::move(name)), log_(std::move(log)) {}
  std::string sleeps;
  std::string throws;
  std::string label() const override { return name_; }

 protected:
  task<void> on_first_start() override { co_await hook("on_first_start"); }
  task<void> on_start() override { co_await hook("on_start"); }
  task<void> on_started() override { co_await hook("on_started"); }
  task<void> on_stop() override { co_await hook("on_stop"); }
  task<void> on_shutdown() override { co_await hook("on_shutdown"); }

 private:
  task<void> hook(const std::string& what) {
    log_->push_back(name_ + "." + what);
    if (what == sleeps)
      co_await sleep(1h);
    if (what == throws)
      throw std::out_of_range(name_ + " fails in " + what);
  }
  std::string name_;
  std::shared_ptr<std::vector<std::string>> log_;
};

bool has(const std::vector<std::string>& log, const std::string& what) {
  return std::find(log.begin(), log.end(), what) != log.end();
}

/// A base whose registered task is a virtual member function.
class ATaskService : public mode::Service {
 public:
  std::vector<int> values;
  ATaskService() { add_task(&ATaskService::background_task, "background_task"); }

 protected:
  virtual task<void> background_task() {
    values.push_back(1);
    co_return;
  }
};

class BTaskService : public ATaskService {
 protected:
  task<void> background_task() override {
    values.push_back(2);
    co_return;
  }
};

/// Iterates itertimer(1s) in a task; `stop_after` > 0 asks its own service to stop from
/// the loop body after that many ticks.
class Ticking : public mode::Service {
 public:
  int stop_after = 0;
  std::vector<int> ticks;
  bool finished = false;
  Ticking() { add_task(&Ticking::run, "Ticking.run"); }

 private:
  task<void> run() {
    auto it = itertimer(1s);
    while (co_await it.next()) {
      ticks.push_back(static_cast<int>(ticks.size()) + 1);
      if (static_cast<int>(ticks.size()) == stop_after)
        mode::handle_of(std::static_pointer_cast<Service>(shared_from_this())).send_stop();
    }
    finished = true;
  }
};

}  // namespace

TEST_CASE(
    "mode: unit/test_services.py::test_interface, test_state_stopped: a service with no hooks "
    "starts and stops, and reads shutdown after" *
    doctest::timeout(10)) {
  virtual_time_fixture fx;
  auto h = fx.spawn<Plain>();
  fx.start(h);
  CHECK(h.service()->state() == ServiceState::running);
  fx.stop(h);
  CHECK(h.service()->state() == ServiceState::shutdown);
}

TEST_CASE(
    "mode: unit/test_services.py::test_add_runtime_dependency__not_started: added during the "
    "stop, the child is kept and not started" *
    doctest::timeout(10)) {
  virtual_time_fixture fx;
  auto late = std::make_shared<Child>();
  auto svc = std::make_shared<Probe>();
  ServiceState seen = ServiceState::running;
  svc->body = [&](Probe& p) -> task<void> {
    co_await p.sleep(1h);  // returns once the stop began
    co_await p.add_runtime_dependency(late);
    seen = late->state();
  };
  mode::ServiceHandle h{fx.sys, svc};
  fx.start(h);
  fx.stop(h);
  CHECK(seen == ServiceState::init);
  REQUIRE(svc->children().size() == 1);
  CHECK(svc->children()[0] == late);
  CHECK(late->state() == ServiceState::init);
  CHECK(h.service()->state() == ServiceState::shutdown);
}

TEST_CASE(
    "mode: unit/test_services.py::test__actually_start__second_stop: a stop during "
    "on_first_start ends the start there (mode checks again after entering the contexts; "
    "mode-cpp enters a context when it is added)" *
    doctest::timeout(10)) {
  virtual_time_fixture fx;
  auto log = std::make_shared<std::vector<std::string>>();
  auto svc = std::make_shared<Hooks>("S", log);
  svc->sleeps = "on_first_start";
  auto child = std::make_shared<Hooks>("child", log);
  svc->add_dependency(child);
  mode::ServiceHandle h{fx.sys, svc};
  h.send_start();
  fx.advance(1s);
  h.send_stop();
  fx.run();
  CHECK(has(*log, "S.on_first_start"));
  CHECK_FALSE(has(*log, "S.on_start"));
  CHECK_FALSE(has(*log, "child.on_start"));
  CHECK_FALSE(has(*log, "S.on_started"));
  CHECK(has(*log, "S.on_shutdown"));
  CHECK(h.service()->state() == ServiceState::shutdown);
}

TEST_CASE(
    "mode: unit/test_services.py::test__actually_start__fourth_stop: a stop while a child "
    "starts: later children never start, on_started never runs" *
    doctest::timeout(10)) {
  virtual_time_fixture fx;
  auto log = std::make_shared<std::vector<std::string>>();
  auto svc = std::make_shared<Hooks>("S", log);
  auto first = std::make_shared<Hooks>("first", log);
  first->sleeps = "on_start";
  auto second = std::make_shared<Hooks>("second", log);
  svc->add_dependency(first);
  svc->add_dependency(second);
  mode::ServiceHandle h{fx.sys, svc};
  h.send_start();
  fx.advance(1s);
  CHECK(has(*log, "first.on_start"));
  h.send_stop();
  fx.run();
  CHECK_FALSE(has(*log, "second.on_first_start"));
  CHECK_FALSE(has(*log, "second.on_start"));
  CHECK_FALSE(has(*log, "S.on_started"));
  CHECK(has(*log, "first.on_shutdown"));
  CHECK(h.service()->state() == ServiceState::shutdown);
}

TEST_CASE(
    "mode: unit/test_services.py::test__default_stop__raises: a child whose stop fails is "
    "logged and the other children still stop" *
    doctest::timeout(10)) {
  virtual_time_fixture fx;
  mode::testing::log_capture logs;
  auto log = std::make_shared<std::vector<std::string>>();
  auto svc = std::make_shared<Hooks>("S", log);
  auto first = std::make_shared<Hooks>("first", log);
  auto failing = std::make_shared<Hooks>("failing", log);
  failing->throws = "on_stop";
  svc->add_dependency(first);
  svc->add_dependency(failing);
  mode::ServiceHandle h{fx.sys, svc};
  fx.start(h);
  fx.stop(h);
  CHECK(has(*log, "failing.on_stop"));
  CHECK(has(*log, "first.on_shutdown"));  // stopped after the failing one (reverse order)
  CHECK(has(*log, "S.on_shutdown"));
  CHECK(
      logs.contains("error [^-failing]: Error in on_stop: std::out_of_range: failing fails in "
                    "on_stop"));
  CHECK_FALSE(logs.contains("Crashed"));  // the parent goes on: mode logs, and stops the rest
  CHECK(h.service()->state() == ServiceState::shutdown);
}

TEST_CASE(
    "mode: unit/test_services.py::test__actually_start__child_is_None, "
    "test_service_reset__None_in_children, test__default_stop_children__None: there are no "
    "null children: add_dependency(nullptr) throws, naming the parent" *
    doctest::timeout(10)) {
  Plain parent;
  try {
    parent.add_dependency(std::shared_ptr<Child>{});
    FAIL("add_dependency(nullptr) did not throw");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string{e.what()}.find("Plain") != std::string::npos);
  }
  CHECK(parent.children().empty());
}

TEST_CASE(
    "mode: unit/test_services.py::test_subclass_can_override_Service_task: a registered virtual "
    "task runs the override only" *
    doctest::timeout(10)) {
  virtual_time_fixture fx;
  auto svc = std::make_shared<BTaskService>();
  mode::ServiceHandle h{fx.sys, svc};
  fx.start(h);
  fx.stop(h);
  CHECK(svc->values == std::vector<int>{2});
}

TEST_CASE(
    "mode: unit/test_services.py::test_itertimer__first_stop: stopped before the first tick, "
    "the loop body never runs" *
    doctest::timeout(10)) {
  virtual_time_fixture fx;
  auto svc = std::make_shared<Ticking>();
  mode::ServiceHandle h{fx.sys, svc};
  fx.start(h);
  fx.advance(500ms);
  fx.stop(h);
  CHECK(svc->ticks.empty());
  CHECK(svc->finished);
}

TEST_CASE(
    "mode: unit/test_services.py::test_itertimer__third_stop: a stop asked from the loop body "
    "ends the loop after that tick" *
    doctest::timeout(10)) {
  virtual_time_fixture fx;
  auto svc = std::make_shared<Ticking>();
  svc->stop_after = 1;
  mode::ServiceHandle h{fx.sys, svc};
  fx.start(h);
  fx.advance(5s);
  CHECK(svc->ticks == std::vector<int>{1});
  CHECK(svc->finished);
  CHECK(h.service()->state() == ServiceState::shutdown);
}

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
