// mode/testing.hpp as a user's test uses it (only public headers): a crontab across a
// DST change, a timer, and a supervisor's max_restarts window, all on virtual time.
// docs/testing.md shows these cases.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <vector>

#include <date/date.h>

#include "mode/mode.hpp"
#include "mode/testing.hpp"

using namespace std::chrono_literals;
using namespace date::literals;
using sys_clock = std::chrono::system_clock;

namespace {

class Hourly : public mode::Service {
 public:
  Hourly() { crontab("0 * * * *", &Hourly::tick, {.timezone = "Europe/Berlin"}); }
  std::vector<sys_clock::time_point> fired;

 private:
  mode::task<void> tick() {
    fired.push_back(wall_clock());
    co_return;
  }
};

class Ticker : public mode::Service {
 public:
  Ticker() { timer(250ms, &Ticker::tick); }
  int ticks = 0;

 private:
  mode::task<void> tick() {
    ++ticks;
    co_return;
  }
};

/// Crashes 3 s after every start.
class Flaky : public mode::Service {
 public:
  Flaky() { timer(3s, &Flaky::fail); }

 private:
  mode::task<void> fail() { throw std::runtime_error("flaky"); }
};

/// A OneForOneSupervisor holding a Flaky, with max_restarts = 2 within `over`.
struct supervised_flaky {
  std::shared_ptr<Flaky> flaky = std::make_shared<Flaky>();
  std::shared_ptr<mode::OneForOneSupervisor> sup;
  explicit supervised_flaky(mode::Seconds over) {
    mode::SupervisorOptions opts;
    opts.max_restarts = 2;
    opts.over = over;
    sup = std::make_shared<mode::OneForOneSupervisor>(opts);
    sup->add(flaky);
  }
};

sys_clock::time_point utc(date::year_month_day day, std::chrono::hours h,
                          std::chrono::minutes m = {}) {
  return date::sys_days{day} + h + m;
}

}  // namespace

TEST_CASE("testing kit: an hourly crontab in Europe/Berlin across the spring-forward night" *
          doctest::timeout(30)) {
  mode::testing::virtual_time_fixture fx;
  auto svc = fx.spawn<Hourly>();
  auto& hourly = static_cast<Hourly&>(*svc.service());
  // 2026-03-29 00:30 CET (23:30 UTC the day before); at 02:00 CET clocks jump to 03:00.
  hourly.wall_clock = fx.wall_clock(utc(2026_y / 3 / 28, 23h, 30min));
  fx.start(svc);
  fx.advance(4h);  // to 05:30 CEST
  // 01:00 CET, then 03:00 CEST one real hour later (02:00 does not exist), 04:00, 05:00.
  std::vector<sys_clock::time_point> expected{utc(2026_y / 3 / 29, 0h), utc(2026_y / 3 / 29, 1h),
                                              utc(2026_y / 3 / 29, 2h), utc(2026_y / 3 / 29, 3h)};
  CHECK(hourly.fired == expected);
  fx.stop(svc);
}

TEST_CASE("testing kit: a timer ticks 4 times a second of virtual time" * doctest::timeout(30)) {
  mode::testing::virtual_time_fixture fx;
  auto svc = fx.spawn<Ticker>();
  auto& ticker = static_cast<Ticker&>(*svc.service());
  fx.start(svc);
  fx.advance(10s);
  CHECK(ticker.ticks == 40);
  fx.stop(svc);
  fx.advance(10s);
  CHECK(ticker.ticks == 40);  // stopped: no more ticks
}

TEST_CASE("testing kit: a supervisor's max_restarts window on virtual time" *
          doctest::timeout(30)) {
  SUBCASE("crashes at 3, 6 and 9 s: the third restart within 10 s fails the supervisor") {
    mode::testing::virtual_time_fixture fx;
    mode::testing::log_capture logs{"mode.supervisors"};
    supervised_flaky s{mode::Seconds{10.0}};
    mode::ServiceHandle h{fx.sys, s.sup};
    fx.start(h);
    fx.advance(8s);
    CHECK(s.flaky->restart_count() == 2);
    CHECK(s.sup->state() == mode::ServiceState::running);
    fx.advance(1s);
    CHECK(s.sup->state() == mode::ServiceState::crashed);
    CHECK(logs.contains("Max restarts exceeded: more than 2 restarts within 10s"));
  }
  SUBCASE("the same crashes within a 5 s window: never more than 2, it keeps restarting") {
    mode::testing::virtual_time_fixture fx;
    supervised_flaky s{mode::Seconds{5.0}};
    mode::ServiceHandle h{fx.sys, s.sup};
    fx.start(h);
    fx.advance(60s);
    CHECK(s.flaky->restart_count() == 20);
    CHECK(s.sup->state() == mode::ServiceState::running);
    fx.stop(h);
  }
}

TEST_CASE("testing kit: a blocking handle call on virtual time is refused, not a hang" *
          doctest::timeout(30)) {
  mode::testing::virtual_time_fixture fx;
  auto svc = fx.spawn<Ticker>();
  CHECK_THROWS_WITH_AS(svc.start(), doctest::Contains("ServiceHandle::start() on Ticker"),
                       std::logic_error);
  fx.start(svc);  // the fixture's form works
  CHECK(svc.service()->state() == mode::ServiceState::running);
  fx.stop(svc);
}

TEST_CASE(
    "testing kit: a service a failed test left running is stopped with the fixture, not "
    "hung on" *
    doctest::timeout(30)) {
  struct Left : mode::Service {
    std::shared_ptr<bool> stopped = std::make_shared<bool>(false);
    mode::task<void> on_stop() override {
      *stopped = true;
      co_return;
    }
  };
  std::shared_ptr<bool> stopped;
  {
    mode::testing::virtual_time_fixture fx;
    auto h = fx.spawn<Left>();
    stopped = std::static_pointer_cast<Left>(h.service())->stopped;
    fx.start(h);
    CHECK_FALSE(*stopped);
    // The test ends here without fx.stop(h), as one that failed a REQUIRE would.
  }
  CHECK(*stopped);
}
