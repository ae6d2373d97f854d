// Service timers and itertimer on virtual time (CAF's test coordinator).
#include <doctest/doctest.h>

#include "mode/service.hpp"
#include "mode/service_handle.hpp"
#include "test_support.hpp"

using namespace std::chrono_literals;
using mode::ServiceState;
using mode::task;
using mode::testing::virtual_time_fixture;

namespace {

class Ticker : public mode::Service {
 public:
  explicit Ticker(bool exec_first = false) {
    timer(1s, &Ticker::tick, {.exec_first = exec_first, .name = "Ticker.tick"});
  }
  task<void> tick() {
    ticks.push_back(now());
    co_return;
  }
  std::vector<clock::time_point> ticks;
};

class Iterating : public mode::Service {
 public:
  Iterating() { add_task(&Iterating::loop, "Iterating.loop"); }
  task<void> loop() {
    auto it = itertimer(250ms);
    while (co_await it.next())
      ++wakeups;
    finished = true;
  }
  int wakeups = 0;
  bool finished = false;
};

class Slow : public mode::Service {
 public:
  Slow() { timer(1s, &Slow::tick, {.name = "Slow.tick"}); }
  task<void> tick() {
    ++runs;
    if (runs == 2)
      co_await sleep(2500ms);  // overruns two deadlines
  }
  int runs = 0;
};

}  // namespace

TEST_CASE(
    "mode: unit/test_services.py::test_timer, test_timer__not_to_wait_twice: a 1 s timer fires "
    "once per second, first after a full interval" *
    doctest::timeout(30)) {
  virtual_time_fixture fx;
  auto svc = std::make_shared<Ticker>();
  mode::ServiceHandle h{fx.sys, svc};
  h.send_start();
  fx.run();
  auto t0 = fx.sys.clock().now();
  fx.advance(999ms);
  CHECK(svc->ticks.empty());
  fx.advance(61s + 1ms);
  REQUIRE(svc->ticks.size() == 62);
  // Scheduled at start + i * interval: no drift accumulates.
  for (std::size_t i = 0; i < svc->ticks.size(); ++i)
    CHECK(svc->ticks[i] - t0 == std::chrono::seconds(i + 1));
  h.send_stop();
  fx.run();
  CHECK(svc->state() == ServiceState::shutdown);
  auto n = svc->ticks.size();
  fx.advance(5s);
  CHECK(svc->ticks.size() == n);  // no tick after stop
}

TEST_CASE(
    "mode: unit/test_services.py::test_timer__exec_first: exec_first runs the timer callback at "
    "start" *
    doctest::timeout(30)) {
  virtual_time_fixture fx;
  auto svc = std::make_shared<Ticker>(true);
  mode::ServiceHandle h{fx.sys, svc};
  h.send_start();
  fx.run();
  CHECK(svc->ticks.size() == 1);
  fx.advance(1s);
  CHECK(svc->ticks.size() == 2);
  h.send_stop();
  fx.run();
}

TEST_CASE(
    "mode: unit/test_services.py::test_itertimer, test_itertimer__second_stop: itertimer wakes per "
    "interval and ends when the service stops" *
    doctest::timeout(30)) {
  virtual_time_fixture fx;
  auto svc = std::make_shared<Iterating>();
  mode::ServiceHandle h{fx.sys, svc};
  h.send_start();
  fx.advance(1s);
  CHECK(svc->wakeups == 4);
  h.send_stop();
  fx.run();
  CHECK(svc->finished);
  CHECK(svc->state() == ServiceState::shutdown);
}

TEST_CASE("a tick missed by an overrunning callback is skipped, not bunched" *
          doctest::timeout(30)) {
  virtual_time_fixture fx;
  auto svc = std::make_shared<Slow>();
  mode::ServiceHandle h{fx.sys, svc};
  h.send_start();
  fx.advance(2s);
  CHECK(svc->runs == 2);  // the second run sleeps until 4.5 s
  fx.advance(2500ms);
  CHECK(svc->runs == 2);  // the ticks due at 3 s and 4 s were skipped
  fx.advance(500ms);
  CHECK(svc->runs == 3);  // back on the grid at 5 s
  h.send_stop();
  fx.run();
}

TEST_CASE("a timer interval of zero is rejected at registration" * doctest::timeout(10)) {
  struct Bad : mode::Service {
    Bad() {
      timer(0, [] { return task<void>{}; });
    }
  };
  CHECK_THROWS_AS(Bad{}, std::invalid_argument);
}
