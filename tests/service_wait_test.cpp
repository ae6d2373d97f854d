// Service waits (wait, wait_first, wait_many, wait_for_stopped, wait_until_stopped),
// Event, tracebacks, Diag and from_awaitable, on virtual time.
#include <doctest/doctest.h>

#include "mode/awaitable_service.hpp"
#include "mode/service.hpp"
#include "mode/service_handle.hpp"
#include "test_support.hpp"

using namespace std::chrono_literals;
using mode::Event;
using mode::ServiceState;
using mode::task;
using mode::testing::virtual_time_fixture;

namespace {

/// Runs `body` as a background task; `setter` sets events after delays.
class Waiter : public mode::Service {
 public:
  std::function<task<void>(Waiter&)> body;
  Event a, b;
  std::vector<std::string> log;
  Waiter() { add_task(&Waiter::run, "Waiter.run"); }
  task<void> run() { co_await body(*this); }
  task<void> sleep_task(std::chrono::seconds d) { co_await sleep(d); }
  task<int> commit_twice(int n) {
    co_await sleep(10ms);
    if (n < 0)
      throw std::invalid_argument("negative");
    co_return n * 2;
  }
  task<void> set_after(Event& ev, std::chrono::milliseconds d) {
    co_await sleep(d);
    ev.set();
  }
};

struct harness {
  virtual_time_fixture fx;
  std::shared_ptr<Waiter> svc = std::make_shared<Waiter>();
  mode::ServiceHandle h{fx.sys, svc};
  void start() {
    h.send_start();
    fx.run();
  }
  ~harness() {
    h.send_stop();
    fx.advance(1s);
  }
};

}  // namespace

TEST_CASE("mode: test_service.py::test_wait: wait(event) returns when the event is set" *
          doctest::timeout(30)) {
  harness t;
  t.svc->body = [](Waiter& w) -> task<void> {
    w.add_future(w.set_after(w.a, 100ms));
    auto r = co_await w.wait(w.a);
    w.log.push_back(r.done() ? "done" : "not done");
  };
  t.start();
  t.fx.advance(99ms);
  CHECK(t.svc->log.empty());
  t.fx.advance(2ms);
  CHECK(t.svc->log == std::vector<std::string>{"done"});
}

TEST_CASE("mode: unit/test_services.py::test_wait__one: wait(event, timeout) times out" *
          doctest::timeout(30)) {
  harness t;
  t.svc->body = [](Waiter& w) -> task<void> {
    auto r = co_await w.wait(w.a, 50ms);
    w.log.push_back(r.timed_out ? "timed out" : "other");
    w.log.push_back(r.stopped ? "stopped" : "running");
  };
  t.start();
  t.fx.advance(60ms);
  CHECK(t.svc->log == std::vector<std::string>{"timed out", "running"});
}

TEST_CASE("mode: test_service.py::test_wait__when_stopped, test_wait__when_crashed" *
          doctest::timeout(30)) {
  SUBCASE("stop") {
    harness t;
    t.svc->body = [](Waiter& w) -> task<void> {
      auto r = co_await w.wait(w.a);
      w.log.push_back(r.stopped ? "stopped" : "other");
    };
    t.start();
    t.fx.advance(10ms);
    t.h.send_stop();
    t.fx.run();
    CHECK(t.svc->log == std::vector<std::string>{"stopped"});
  }
  SUBCASE("crash") {
    harness t;
    t.svc->body = [](Waiter& w) -> task<void> {
      auto stopped = co_await w.wait_for_stopped(w.a);
      w.log.push_back(stopped ? "stopped" : "other");
    };
    t.start();
    t.h.crash("boom");
    t.fx.run();
    CHECK(t.svc->log == std::vector<std::string>{"stopped"});
    CHECK(t.svc->state() == ServiceState::crashed);
  }
}

TEST_CASE(
    "mode: test_service.py::test_wait__multiple_events: wait_first reports the first, cancels the "
    "rest" *
    doctest::timeout(30)) {
  harness t;
  t.svc->body = [](Waiter& w) -> task<void> {
    w.add_future(w.set_after(w.b, 30ms));
    w.add_future(w.set_after(w.a, 60ms));
    // g++ 12 cannot keep a braced list alive across co_await: name the list first.
    std::vector<mode::Waitable> both{w.a, w.b};
    auto r = co_await w.wait_first(both);
    REQUIRE(r.done.size() == 1);
    w.log.push_back("first=" + std::to_string(r.done[0]));
    std::vector<mode::Waitable> slow{w.sleep_task(1h)};
    auto none = co_await w.wait_first(slow, 10ms);
    w.log.push_back(none.done.empty() && !none.stopped ? "timeout" : "other");
  };
  t.start();
  t.fx.advance(100ms);
  CHECK(t.svc->log == std::vector<std::string>{"first=1", "timeout"});
}

TEST_CASE(
    "mode: unit/test_services.py::test_wait_many: wait_many waits for all, and an exception in one "
    "propagates" *
    doctest::timeout(30)) {
  harness t;
  t.svc->body = [](Waiter& w) -> task<void> {
    w.add_future(w.set_after(w.a, 10ms));
    w.add_future(w.set_after(w.b, 40ms));
    std::vector<mode::Waitable> both{w.a, w.b};
    auto r = co_await w.wait_many(both);
    w.log.push_back(r.done() ? "all" : "not all");
    auto failing = [](Waiter& s) -> task<void> {
      co_await s.sleep(5ms);
      throw std::runtime_error("inner failure");
    };
    std::string caught;
    try {
      co_await w.wait(failing(w));
    } catch (const std::runtime_error& e) {
      caught = e.what();
    }
    w.log.push_back(caught);
  };
  t.start();
  t.fx.advance(30ms);
  CHECK(t.svc->log.empty());
  t.fx.advance(30ms);
  CHECK(t.svc->log == std::vector<std::string>{"all", "inner failure"});
}

TEST_CASE(
    "mode: unit/test_services.py::test_wait_until_stopped: wait_until_stopped resumes a task once "
    "the service stops" *
    doctest::timeout(30)) {
  harness t;
  t.svc->body = [](Waiter& w) -> task<void> {
    co_await w.wait_until_stopped();
    w.log.push_back("stopped");
  };
  t.start();
  t.fx.advance(1s);
  CHECK(t.svc->log.empty());
  t.h.send_stop();
  t.fx.run();
  CHECK(t.svc->log == std::vector<std::string>{"stopped"});
}

TEST_CASE("tracebacks name every pending task and where it waits" * doctest::timeout(30)) {
  harness t;
  t.svc->body = [](Waiter& w) -> task<void> {
    co_await w.sleep(1h);  // the line tracebacks must point at
  };
  t.start();
  t.fx.advance(1ms);
  auto tb = t.svc->tracebacks();
  REQUIRE(tb.count("Waiter.run") == 1);
  CHECK(tb["Waiter.run"].find("service_wait_test.cpp:") != std::string::npos);
  CHECK(tb["Waiter.run"].find("awaiting Service.sleep") != std::string::npos);
  auto text = t.svc->human_tracebacks();
  CHECK(text.find("Waiter Waiter.run\n=================\n") != std::string::npos);
}

TEST_CASE("mode: unit/test_services.py::test_transition_with: Diag flags and transition_with" *
          doctest::timeout(30)) {
  harness t;
  t.svc->body = [](Waiter& w) -> task<void> {
    auto inner = [](Waiter& s) -> task<int> {
      co_await s.sleep(10ms);
      co_return 42;
    };
    auto v = co_await w.transition_with("committing", inner(w));
    w.log.push_back(std::to_string(v));
  };
  t.start();
  t.fx.advance(5ms);
  CHECK(t.svc->diag.has_flag("committing"));
  t.fx.advance(10ms);
  CHECK_FALSE(t.svc->diag.has_flag("committing"));
  CHECK(t.svc->diag.last_transition("committing").has_value());
  CHECK(t.svc->log == std::vector<std::string>{"42"});
}

TEST_CASE(
    "mode: unit/test_services.py::test_transitions_to: transitions_to wraps a member coroutine in "
    "its diag flag, also when it throws" *
    doctest::timeout(30)) {
  harness t;
  // A member coroutine of the service, as mode's @Service.transitions_to decorates.
  static const auto committing = mode::transitions_to("COMMITTING", &Waiter::commit_twice);
  t.svc->body = [](Waiter& w) -> task<void> {
    w.log.push_back(std::to_string(co_await committing(w, 21)));
    try {
      co_await committing(w, -1);
    } catch (const std::invalid_argument& e) {
      w.log.push_back(e.what());
    }
  };
  t.start();
  t.fx.advance(5ms);
  CHECK(t.svc->diag.has_flag("COMMITTING"));
  t.fx.advance(10ms);  // the first ended; the second runs
  CHECK(t.svc->log == std::vector<std::string>{"42"});
  CHECK(t.svc->diag.has_flag("COMMITTING"));
  t.fx.advance(10ms);
  CHECK_FALSE(t.svc->diag.has_flag("COMMITTING"));
  CHECK(t.svc->log == std::vector<std::string>{"42", "negative"});
}

TEST_CASE(
    "mode: unit/test_services.py::test_from_awaitable__raises_cancel: a CancelledError out of "
    "the coroutine fails the start with it" *
    doctest::timeout(30)) {
  virtual_time_fixture fx;
  auto ran = std::make_shared<int>(0);
  auto svc = mode::from_awaitable(
      [ran](mode::Service&) -> task<void> {
        ++*ran;
        throw mode::CancelledError{};
        co_return;
      },
      "cancelling");
  mode::ServiceHandle h{fx.sys, svc};
  h.send_start();
  fx.run();
  CHECK(*ran == 1);
  CHECK(svc->crashed());
  CHECK(mode::describe_exception(svc->crash_reason()).starts_with("mode::CancelledError"));
}

TEST_CASE(
    "mode: unit/test_services.py::test_from_awaitable, test_from_awaitable__sleeping_is_cancelled: "
    "from_awaitable runs a coroutine as a service; stop cancels it" *
    doctest::timeout(30)) {
  virtual_time_fixture fx;
  auto ran = std::make_shared<int>(0);
  auto svc = mode::from_awaitable(
      [ran](mode::Service& s) -> task<void> {
        while (true) {
          ++*ran;
          co_await s.sleep(1s);
        }
      },
      "poller");
  CHECK(svc->label() == "poller");
  mode::ServiceHandle h{fx.sys, svc};
  h.send_start();
  fx.advance(3500ms);
  CHECK(*ran == 4);
  h.send_stop();
  fx.advance(2s);
  CHECK(svc->state() == ServiceState::shutdown);
  CHECK(*ran <= 5);
}
