// mode::task and the coroutine host, without an actor: a fake driver records what the
// host asks of the actor, and the test plays the actor's part.
#include <doctest/doctest.h>

#include <deque>

#include "mode/detail/awaiters.hpp"
#include "mode/detail/coro_host.hpp"
#include "mode/task.hpp"

using mode::task;
using namespace mode::detail;

namespace {

struct fake_driver : host_driver {
  coro_host* host = nullptr;
  std::deque<std::uint64_t> begins, wakes;
  std::vector<std::pair<std::uint64_t, std::chrono::nanoseconds>> timeouts;
  std::vector<std::pair<std::uint64_t, std::string>> done;
  void post_wake(std::uint64_t id) override { wakes.push_back(id); }
  void schedule_timeout(std::uint64_t id, std::chrono::nanoseconds d) override {
    timeouts.emplace_back(id, d);
  }
  void post_begin(std::uint64_t id) override { begins.push_back(id); }
  void on_task_done(std::uint64_t id, bool, std::exception_ptr error) override {
    std::string what = "ok";
    if (error) {
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        what = e.what();
      }
    }
    done.emplace_back(id, what);
  }
  /// Plays the actor: delivers queued begin and wake messages.
  void run() {
    while (!begins.empty() || !wakes.empty()) {
      if (!begins.empty()) {
        auto id = begins.front();
        begins.pop_front();
        host->begin(id);
      } else {
        auto id = wakes.front();
        wakes.pop_front();
        host->resume(id, wake_reason::fired);
      }
    }
  }
};

struct fixture {
  fake_driver driver;
  coro_host host{driver};
  fixture() { driver.host = &host; }
};

task<int> answer() {
  co_return 42;
}

task<void> answer_void() {
  co_return;
}

task<long> sum_many(int n) {
  long total = 0;
  for (int i = 0; i < n; ++i)
    total += co_await answer();
  co_return total;
}

/// Suspends until woken by the test (no timeout, not woken by stop).
wait_awaiter park(std::source_location where = std::source_location::current()) {
  return wait_awaiter{running_host(), std::nullopt, false, false, "park", where};
}

}  // namespace

TEST_CASE("awaiting a million tasks that finish inline does not grow the stack" *
          doctest::timeout(60)) {
  fixture fx;
  long result = 0;
  auto body = [](long& out) -> task<void> {
    out = co_await sum_many(1'000'000);
  };
  fx.host.launch(body(result), "sum", true);
  fx.driver.run();
  CHECK(result == 42'000'000L);
  REQUIRE(fx.driver.done.size() == 1);
  CHECK(fx.driver.done[0].second == "ok");
}

TEST_CASE("a task resumes where it suspended, and exceptions reach the awaiter" *
          doctest::timeout(10)) {
  fixture fx;
  std::vector<std::string> log;
  auto inner = [](std::vector<std::string>& l) -> task<int> {
    l.push_back("inner before");
    co_await park();
    l.push_back("inner after");
    throw std::runtime_error("inner failed");
  };
  auto outer = [&inner](std::vector<std::string>& l) -> task<void> {
    try {
      co_await inner(l);
    } catch (const std::runtime_error& e) {
      l.push_back(std::string{"caught "} + e.what());
    }
  };
  fx.host.launch(outer(log), "outer", true);
  fx.driver.run();
  CHECK(log == std::vector<std::string>{"inner before"});
  auto traces = fx.host.traces();
  REQUIRE(traces.size() == 1);
  CHECK(traces[0].suspended);
  CHECK(std::string{traces[0].what} == "park");
  // Wake the parked wait, as an actor would on a message.
  auto* node = fx.host.find(2);  // task 1, wait 2
  REQUIRE(node != nullptr);
  fx.host.resume(2, wake_reason::fired);
  CHECK(log == std::vector<std::string>{"inner before", "inner after", "caught inner failed"});
  CHECK(fx.host.traces().empty());
}

TEST_CASE(
    "mode: unit/test_services.py::test__execute_task__CancelledError: an escaping exception is "
    "reported; cancellation is a normal end" *
    doctest::timeout(10)) {
  fixture fx;
  auto failing = []() -> task<void> {
    throw std::logic_error("bad");
    co_return;
  };
  auto parked = []() -> task<void> {
    co_await park();
  };
  fx.host.launch(failing(), "failing", true);
  fx.host.launch(parked(), "parked", true);
  fx.driver.run();
  fx.host.cancel_futures();
  REQUIRE(fx.driver.done.size() == 2);
  CHECK(fx.driver.done[0].second == "bad");
  CHECK(fx.driver.done[1].second == "ok");
  CHECK(fx.host.pending_futures() == 0);
}

TEST_CASE("cancelling runs destructors; a stale wake-up is ignored" * doctest::timeout(10)) {
  fixture fx;
  int destroyed = 0;
  int resumed = 0;
  struct guard {
    int& n;
    ~guard() { ++n; }
  };
  auto stubborn = [](int& d, int& r) -> task<void> {
    guard g{d};
    try {
      co_await park();
    } catch (const mode::CancelledError&) {
    }
    // Ignores the cancellation and parks again: the host destroys the frame instead.
    co_await park();
    ++r;
  };
  fx.host.launch(stubborn(destroyed, resumed), "stubborn", true);
  auto never_begun = [](int& d) -> task<void> {
    guard g{d};
    co_return;
  };
  fx.host.launch(never_begun(destroyed), "never begun", true);
  fx.host.begin(1);
  fx.host.cancel_futures();
  CHECK(destroyed == 1);  // the stubborn frame; never_begun's guard was never constructed
  CHECK(resumed == 0);
  fx.host.resume(3, wake_reason::fired);  // a late wake-up for a wait that is gone
  fx.driver.run();
  CHECK(resumed == 0);
  CHECK(fx.host.pending_futures() == 0);
}

TEST_CASE("wake_stopped resumes only waits that return early on stop" * doctest::timeout(10)) {
  fixture fx;
  std::vector<std::string> log;
  auto sleeper = [](std::vector<std::string>& l) -> task<void> {
    auto why = co_await wait_awaiter{running_host(), std::chrono::seconds{10},       true, false,
                                     "sleep",        std::source_location::current()};
    l.push_back(why == wake_reason::stopped ? "sleeper stopped" : "sleeper other");
  };
  auto parked = [](std::vector<std::string>& l) -> task<void> {
    co_await park();
    l.push_back("parked woke");
  };
  fx.host.launch(sleeper(log), "sleeper", true);
  fx.host.launch(parked(log), "parked", true);
  fx.driver.run();
  REQUIRE(fx.driver.timeouts.size() == 1);
  CHECK(fx.driver.timeouts[0].second == std::chrono::seconds{10});
  fx.host.wake_stopped();
  CHECK(log == std::vector<std::string>{"sleeper stopped"});
  fx.host.destroy_all();
}

TEST_CASE("error_of yields a task's exception; fail_with ends a coroutine with one" *
          doctest::timeout(10)) {
  fixture fx;
  std::vector<std::string> log;
  auto failing = []() -> task<void> {
    throw std::runtime_error("from the child");
    co_return;
  };
  auto passing_on = [](std::exception_ptr e) -> task<void> {
    co_await mode::detail::fail_with(std::move(e));
    throw std::logic_error("never reached: fail_with does not resume");
  };
  auto parent = [&]() -> task<void> {
    auto error = co_await mode::detail::error_of(failing());
    log.push_back(error ? "got an error" : "no error");
    auto none = co_await mode::detail::error_of(answer_void());
    log.push_back(none ? "error" : "none");
    // What fail_with ended a task with reaches a plain co_await as a throw.
    try {
      co_await passing_on(error);
    } catch (const std::runtime_error& e) {
      log.push_back(std::string{"caught "} + e.what());
    }
    auto again = co_await mode::detail::error_of(passing_on(error));
    log.push_back(again == error ? "same exception" : "another exception");
  };
  fx.host.launch(parent(), "parent", true);
  fx.driver.run();
  CHECK(log == std::vector<std::string>{"got an error", "none", "caught from the child",
                                        "same exception"});
  REQUIRE(fx.driver.done.size() == 1);
  CHECK(fx.driver.done[0].second == "ok");
}

TEST_CASE("a root task ended by fail_with is reported like one that threw" * doctest::timeout(10)) {
  fixture fx;
  auto root = []() -> task<void> {
    co_await park();
    co_await mode::detail::fail_with(std::make_exception_ptr(std::runtime_error("failed")));
  };
  fx.host.launch(root(), "root", true);
  fx.driver.run();
  CHECK(fx.driver.done.empty());
  fx.host.resume(2, wake_reason::fired);
  REQUIRE(fx.driver.done.size() == 1);
  CHECK(fx.driver.done[0].second == "failed");
  CHECK(fx.host.traces().empty());
}

TEST_CASE("an empty task<void> is a finished task; an empty task<int> is an error" *
          doctest::timeout(10)) {
  fixture fx;
  std::vector<std::string> log;
  auto body = [&]() -> task<void> {
    co_await task<void>{};
    log.push_back("awaited an empty task");
    CHECK(co_await mode::detail::error_of(task<void>{}) == nullptr);
    try {
      co_await task<int>{};
    } catch (const std::logic_error& e) {
      log.push_back(e.what());
    }
  };
  CHECK(task<void>{}.done() == false);  // no coroutine: not "done", just nothing to run
  CHECK(fx.host.launch(task<void>{}, "empty", true) == 0);
  CHECK(fx.driver.begins.empty());
  fx.host.launch(body(), "body", true);
  fx.driver.run();
  CHECK(log == std::vector<std::string>{"awaited an empty task",
                                        "mode: co_await on an empty mode::task<T>"});
}
