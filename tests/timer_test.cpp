// Tests for mode::Timer on a fake clock, in the style of mode's
// tests/functional/test_timers.py (early/late drift, explicit max_drift), plus the
// port's fixes: no accumulated lateness, missed ticks skipped, small intervals corrected.
#include "mode/timer.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ringbuffer_sink.h>

using namespace std::chrono_literals;
using mode::Timer;
using mode::TimerOptions;
using ns = std::chrono::nanoseconds;

namespace {

// Log lines as "level|message", captured for assertions.
struct log_capture {
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink =
      std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(4096);
  std::shared_ptr<spdlog::logger> logger = std::make_shared<spdlog::logger>("timer_test", sink);

  explicit log_capture(spdlog::level::level_enum level = spdlog::level::info) {
    sink->set_pattern("%l|%v");
    logger->set_level(level);
  }

  std::vector<std::string> lines() const { return sink->last_formatted(); }

  std::size_t count(const std::string& needle) const {
    auto all = lines();
    return static_cast<std::size_t>(std::count_if(all.begin(), all.end(), [&](const auto& line) {
      return line.find(needle) != std::string::npos;
    }));
  }
};

// Drives a Timer as the service layer will: sleep exactly what it asked (plus an
// injected lateness), wake, run the callback for a given time, ask for the next sleep.
struct driver {
  Timer::time_point now = Timer::time_point{} + 9s;  // mode's test epoch is 9.0
  log_capture logs;
  Timer timer;
  mode::seconds_f pending{0};

  explicit driver(mode::Seconds interval, TimerOptions opts = {},
                  spdlog::level::level_enum level = spdlog::level::info)
      : logs(level), timer(interval, with_clock(std::move(opts))) {
    pending = timer.first_sleep();
  }

  driver(const driver&) = delete;
  driver& operator=(const driver&) = delete;

  TimerOptions with_clock(TimerOptions opts) {
    if (opts.name.empty())
      opts.name = "test";
    opts.clock = [this] {
      return now;
    };
    opts.logger = logs.logger;
    return opts;
  }

  // One tick; returns when the callback started.
  Timer::time_point tick(ns late = 0ns, ns runtime = 10ms) {
    now += std::chrono::round<ns>(pending) + late;
    auto woke = now;
    timer.on_wakeup();
    now += runtime;
    timer.on_callback_done();
    pending = timer.next_sleep();
    return woke;
  }
};

ns to_ns(mode::seconds_f d) {
  return std::chrono::round<ns>(d);
}

}  // namespace

TEST_CASE("first_sleep sets the epoch and sleeps a full interval" * doctest::timeout(5)) {
  driver d{1s};
  CHECK(d.pending == 1s);
  CHECK(d.timer.epoch() == d.now);
  CHECK(d.timer.tick() == 1);
  CHECK(d.timer.scheduled_at() == d.timer.epoch() + 1s);
  CHECK(d.timer.interval() == 1s);
  CHECK(d.timer.max_drift() == mode::seconds_f{0.3});  // min(1.0 * 0.30, 1.2)
  CHECK(d.timer.max_drift_correction() == mode::seconds_f{0.1});
  CHECK(d.timer.name() == "test");
  CHECK(Timer{30s}.max_drift() == mode::seconds_f{1.2});  // the ceiling
}

TEST_CASE("on-time ticks stay on the grid: the callback's runtime is subtracted" *
          doctest::timeout(5)) {
  driver d{1s};
  for (std::uint64_t i = 1; i <= 5; ++i) {
    auto woke = d.tick(0ns, 10ms);
    CHECK(woke == d.timer.due(i));
    CHECK(to_ns(d.timer.last_drift()) == 0s);
    CHECK(to_ns(d.timer.last_runtime()) == 10ms);
    CHECK(to_ns(d.pending) == 990ms);  // mode would sleep a full second after the callback
  }
  CHECK(d.timer.iteration() == 5);
  CHECK(d.timer.drifting() == 0);
  CHECK(d.timer.overlaps() == 0);
  CHECK(d.timer.skipped() == 0);
}

TEST_CASE("mode: test_timers.py::test_too_early, test_too_late: counted and logged once" *
          doctest::timeout(10)) {
  struct scenario {
    double interval;
    double skew;
  };
  for (auto [interval, skew] : {scenario{1.0, 0.3}, scenario{1.0, 0.5}, scenario{30.0, 5.0}}) {
    CAPTURE(interval);
    CAPTURE(skew);
    auto skew_ns = to_ns(mode::seconds_f{skew});
    auto interval_ns = to_ns(mode::seconds_f{interval});
    auto max_correction = ns{100ms};
    // Enough ticks for the clamped correction to bring the schedule back to the grid.
    auto recovery = static_cast<int>(skew_ns / max_correction) + 2;
    for (int sign : {-1, +1}) {
      CAPTURE(sign);
      driver d{interval};
      d.tick();
      d.tick();
      auto before = d.tick();
      auto woke = d.tick(sign * skew_ns);  // the 4th wake-up: early (-1) or late (+1)
      CHECK(to_ns(d.timer.last_drift()) == -sign * skew_ns);
      CHECK(d.timer.drifting() == 1);
      CHECK(d.timer.drifting_early() == (sign < 0 ? 1u : 0u));
      CHECK(d.timer.drifting_late() == (sign > 0 ? 1u : 0u));
      auto needle = sign < 0 ? "info|Timer test woke up too early, with a drift of -"
                             : "info|Timer test woke up too late, with a drift of +";
      CHECK(d.logs.count(needle) == 1);
      CHECK(woke - before == interval_ns + sign * skew_ns);
      // Back to the grid, never moving a start by more than max_drift_correction.
      for (int i = 0; i < recovery; ++i) {
        auto previous = woke;
        woke = d.tick();
        auto period = woke - previous;
        CHECK(period >= interval_ns - max_correction);
        CHECK(period <= interval_ns + max_correction);
      }
      CHECK(woke == d.timer.due(d.timer.tick() - 1));
      CHECK(d.timer.drifting() == 1);  // the corrected wake-ups came when asked
      CHECK(d.logs.count("woke up too") == 1);
      CHECK(d.timer.overlaps() == 0);
    }
  }
}

TEST_CASE("the drift line carries mode's fields" * doctest::timeout(5)) {
  driver d{1s};
  d.tick();
  d.tick();
  d.tick(-300ms);
  // The sleep asked for was 0.99 s (1 s minus the 10 ms callback), cut 0.3 s short.
  CHECK(
      d.logs.count(
          "info|Timer test woke up too early, with a drift of -0.3 runtime=0.01 sleeptime=0.69") ==
      1);
  d.tick(400ms);
  // Asked 1.1 s after the early start (clamped), minus the callback; came 0.4 s late.
  CHECK(d.logs.count(
            "info|Timer test woke up too late, with a drift of +0.4 runtime=0.01 sleeptime=1.49") ==
        1);
}

TEST_CASE("an explicit max_drift suppresses or lowers the drift threshold" * doctest::timeout(5)) {
  SUBCASE("above the skew: silent") {
    driver d{1s, {.max_drift = 0.4}};
    d.tick();
    d.tick(-300ms);
    d.tick();
    d.tick(300ms);
    CHECK(d.timer.max_drift() == mode::seconds_f{0.4});
    CHECK(d.timer.drifting() == 0);
    CHECK(d.logs.lines().empty());
  }
  SUBCASE("below a small skew: logged") {
    driver d{1s, {.max_drift = 0.01}};
    d.tick();
    d.tick(50ms);
    CHECK(d.timer.drifting() == 1);
    CHECK(d.timer.drifting_late() == 1);
    CHECK(d.logs.count("info|Timer test woke up too late, with a drift of +0.05 ") == 1);
  }
}

TEST_CASE("drift log level and minimum interval are configurable" * doctest::timeout(5)) {
  SUBCASE("level") {
    driver d{1s, {.drift_log_level = spdlog::level::warn}};
    d.tick(400ms);
    CHECK(d.logs.count("warning|Timer test woke up too late") == 1);
    CHECK(d.logs.count("info|") == 0);
  }
  SUBCASE("below 1 s nothing is counted by default, as mode") {
    driver d{0.5};
    d.tick(300ms);  // 0.3 >= min(0.5 * 0.3, 1.2)
    CHECK(d.timer.drifting() == 0);
    CHECK(d.logs.lines().empty());
  }
  SUBCASE("a lower drift_min_interval counts short timers too") {
    driver d{0.5, {.drift_min_interval = 0.5}};
    d.tick(300ms);
    CHECK(d.timer.drifting_late() == 1);
    CHECK(d.logs.count("woke up too late, with a drift of +0.3") == 1);
  }
}

TEST_CASE("lateness never accumulates (1000 ticks, each 0.3 ms late)" * doctest::timeout(10)) {
  // mode sleeps `interval` after each callback and does not correct at all when
  // interval <= max_drift_correction: at 10 ms with a 1 ms callback it would be
  // 1000 * 1.3 ms = 1.3 s behind after 1000 ticks. The port stays 0.3 ms behind.
  for (auto interval : {ns{10ms}, ns{50ms}, ns{100ms}, ns{1s}}) {
    CAPTURE(interval.count());
    driver d{interval};
    Timer::time_point woke;
    bool all_on_grid = true;
    for (std::uint64_t i = 1; i <= 1000; ++i) {
      woke = d.tick(300us, 1ms);
      all_on_grid = all_on_grid && woke == d.timer.due(i) + 300us;
    }
    CHECK(all_on_grid);
    CHECK(woke == d.timer.epoch() + 1000 * interval + 300us);
    CHECK(to_ns(d.timer.last_drift()) == -300us);
    CHECK(d.timer.iteration() == 1000);
    CHECK(d.timer.overlaps() == 0);
    CHECK(d.timer.skipped() == 0);
    CHECK(d.timer.drifting() == 0);
  }
}

TEST_CASE("a callback that overruns counts an overlap and skips the missed ticks" *
          doctest::timeout(5)) {
  SUBCASE("2.5 intervals: two ticks skipped, back on the grid") {
    driver d{1s};
    d.tick();
    d.tick(0ns, 2500ms);  // tick 2 starts at epoch+2, ends at epoch+4.5
    CHECK(d.timer.overlaps() == 1);
    CHECK(d.timer.skipped() == 2);  // ticks 3 and 4
    CHECK(d.timer.tick() == 5);
    CHECK(to_ns(d.pending) == 500ms);
    CHECK(d.logs.count(
              "warning|Timer test is overlapping (interval=1 runtime=2.5), skipping 2 tick(s)") ==
          1);
    auto woke = d.tick();
    CHECK(woke == d.timer.epoch() + 5s);
    CHECK(to_ns(d.timer.last_drift()) == 0s);
    CHECK(d.timer.overlaps() == 1);
    CHECK(d.timer.drifting() == 0);  // skipping is not drift
  }
  SUBCASE("ending exactly at the next start is no overlap") {
    driver d{1s};
    d.tick(0ns, 1s);
    CHECK(d.timer.overlaps() == 0);
    CHECK(d.pending == 0s);
    CHECK(d.tick() == d.timer.epoch() + 2s);
  }
  SUBCASE("ending 1 ns after the next start skips it") {
    driver d{1s};
    d.tick(0ns, 1s + 1ns);
    CHECK(d.timer.overlaps() == 1);
    CHECK(d.timer.skipped() == 1);
    CHECK(to_ns(d.pending) == 1s - 1ns);
  }
  SUBCASE("a late start plus a long callback overlaps too") {
    driver d{10ms};
    d.tick(3ms, 8ms);  // starts at +13 ms, ends at +21 ms: tick 2 (due +20 ms) missed
    CHECK(d.timer.overlaps() == 1);
    CHECK(d.timer.skipped() == 1);
    CHECK(to_ns(d.pending) == 9ms);
  }
  SUBCASE("short intervals skip several ticks, never bunching them") {
    driver d{10ms};
    d.tick(0ns, 35ms);
    CHECK(d.timer.overlaps() == 1);
    CHECK(d.timer.skipped() == 3);
    CHECK(to_ns(d.pending) == 5ms);
    auto first = d.tick(0ns, 1ms);
    auto second = d.tick(0ns, 1ms);
    CHECK(second - first == 10ms);
  }
}

TEST_CASE("a wake-up after the next tick was due skips the stale ticks" * doctest::timeout(5)) {
  SUBCASE("short interval: straight back to the grid") {
    driver d{10ms};
    d.tick(0ns, 1ms);
    auto woke = d.tick(35ms, 1ms);  // tick 2 was due at +20 ms; woke at +55 ms
    CHECK(woke == d.timer.epoch() + 55ms);
    CHECK(d.timer.skipped() == 3);
    CHECK(d.timer.overlaps() == 0);
    CHECK(to_ns(d.timer.last_drift()) == -35ms);
    CHECK(d.logs.count("warning|Timer test woke up 0.035 late and skipped 3 missed tick(s)") == 1);
    CHECK(d.tick() == d.timer.epoch() + 60ms);
  }
  SUBCASE("long interval: the remaining lag is clamped by max_drift_correction") {
    driver d{1s};
    d.tick();
    auto woke = d.tick(3500ms);  // tick 2 due at +2 s; woke at +5.5 s
    CHECK(d.timer.skipped() == 3);
    CHECK(d.timer.drifting_late() == 1);
    auto next = d.tick();
    CHECK(next - woke == 900ms);
    CHECK(next == d.timer.epoch() + 6400ms);
  }
}

TEST_CASE("small intervals (<= max_drift_correction) are corrected in full" * doctest::timeout(5)) {
  SUBCASE("50 ms interval, 30 ms late: the next tick is on the grid") {
    driver d{50ms};
    d.tick();
    d.tick(30ms, 1ms);
    CHECK(to_ns(d.pending) == 19ms);
    CHECK(d.tick() == d.timer.epoch() + 150ms);
  }
  SUBCASE("1 s interval, 300 ms late: at most 100 ms of correction per tick") {
    driver d{1s};
    d.tick();
    auto woke = d.tick(300ms);
    CHECK(d.tick() - woke == 900ms);
  }
  SUBCASE("max_drift_correction = 0: no correction, starts one interval apart") {
    driver d{1s, {.max_drift_correction = 0}};
    auto woke = d.tick(50ms);
    for (int i = 0; i < 3; ++i) {
      auto next = d.tick(50ms);
      CHECK(next - woke == 1050ms);
      woke = next;
    }
  }
}

TEST_CASE("first_sleep restarts the schedule and keeps the counters" * doctest::timeout(5)) {
  driver d{1s};
  d.tick();
  d.tick(0ns, 1500ms);
  d.now += 7s;
  CHECK(d.timer.first_sleep() == 1s);
  CHECK(d.timer.epoch() == d.now);
  CHECK(d.timer.tick() == 1);
  d.pending = 1s;
  CHECK(d.tick() == d.timer.epoch() + 1s);
  CHECK(d.timer.iteration() == 3);
  CHECK(d.timer.overlaps() == 1);
}

TEST_CASE("each tick logs mode's debug line when debug is enabled" * doctest::timeout(5)) {
  driver d{1s, {}, spdlog::level::debug};
  d.tick();
  CHECK(d.logs.count("debug|Timer test woke up - iteration=1 time_spent_sleeping=1 drift=0 "
                     "new_interval=0.99 since_epoch=1.01") == 1);
  driver quiet{1s};
  quiet.tick();
  CHECK(quiet.logs.lines().empty());
}

TEST_CASE("a Timer without a logger counts but logs nothing" * doctest::timeout(5)) {
  auto now = Timer::time_point{} + 1s;
  Timer t{1s, {.clock = [&] {
            return now;
          }}};
  now += to_ns(t.first_sleep()) + 500ms;
  t.on_wakeup();
  now += 3s;
  t.on_callback_done();
  CHECK(t.drifting_late() == 1);
  CHECK(t.overlaps() == 1);
  CHECK(t.skipped() == 3);
}

TEST_CASE("the default clock is steady_clock" * doctest::timeout(5)) {
  Timer t{1s};
  auto before = std::chrono::steady_clock::now();
  t.first_sleep();
  auto after = std::chrono::steady_clock::now();
  CHECK(t.epoch() >= before);
  CHECK(t.epoch() <= after);
}

TEST_CASE("bad settings throw, naming the value" * doctest::timeout(5)) {
  CHECK_THROWS_WITH_AS(Timer{0}, doctest::Contains("interval must be > 0 seconds, got 0s"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS((Timer{-1, {.name = "flush"}}),
                       doctest::Contains("Timer \"flush\": interval must be > 0 seconds, got -1s"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(Timer{1e-12}, doctest::Contains("rounds to 0 ns"), std::invalid_argument);
  CHECK_THROWS_AS(Timer{1e12}, std::out_of_range);
  CHECK_THROWS_WITH_AS(Timer{"abc"}, doctest::Contains("\"abc\""), mode::invalid_seconds);
  CHECK_THROWS_WITH_AS((Timer{1, {.max_drift_correction = -0.1}}),
                       doctest::Contains("max_drift_correction must be >= 0 seconds, got -0.1s"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS((Timer{1, {.max_drift = -1}}),
                       doctest::Contains("max_drift must be >= 0 seconds, got -1s"),
                       std::invalid_argument);
  CHECK(Timer{"30/m"}.interval() == 500ms);
}

TEST_CASE("calls out of order are logic errors; next_sleep completes the callback" *
          doctest::timeout(5)) {
  auto now = Timer::time_point{};
  Timer t{1s, {.name = "t", .clock = [&] {
                 return now;
               }}};
  CHECK_THROWS_WITH_AS(t.on_wakeup(), doctest::Contains("Timer \"t\": on_wakeup()"),
                       std::logic_error);
  CHECK_THROWS_AS(t.next_sleep(), std::logic_error);
  CHECK_THROWS_AS(t.on_callback_done(), std::logic_error);
  now += to_ns(t.first_sleep());
  t.on_wakeup();
  CHECK_THROWS_AS(t.on_wakeup(), std::logic_error);
  now += 100ms;
  CHECK(to_ns(t.next_sleep()) == 900ms);  // on_callback_done() implied
  CHECK(t.iteration() == 1);
  CHECK_THROWS_WITH_AS(t.next_sleep(), doctest::Contains("twice"), std::logic_error);
}
