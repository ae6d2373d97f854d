// Tests for mode::RestartLimiter: Erlang/OTP's intensity/period, the port's fix of
// mode's token bucket (which let max_restarts=3, over=60 allow 60 quick restarts).
#include "mode/restart_limiter.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using mode::RestartLimiter;

namespace {

const RestartLimiter::time_point t0 = RestartLimiter::time_point{} + 1000s;

}  // namespace

TEST_CASE("defaults are mode's: 100 restarts over 1 s" * doctest::timeout(5)) {
  RestartLimiter limiter;
  CHECK(limiter.max_restarts() == 100.0);
  CHECK(limiter.over() == 1s);
  CHECK_FALSE(limiter.is_unlimited());
  for (int i = 0; i < 100; ++i)
    CHECK(limiter.allow(t0 + i * 1ms));
  CHECK_FALSE(limiter.allow(t0 + 100ms));
}

TEST_CASE("max_restarts=3 over 60 s fails the 4th quick restart (mode allowed 60)" *
          doctest::timeout(5)) {
  RestartLimiter limiter{3, 60};
  CHECK(limiter.allow(t0));
  CHECK(limiter.allow(t0 + 1ms));
  CHECK(limiter.allow(t0 + 2ms));
  CHECK(limiter.restarts_in_window(t0 + 2ms) == 3);
  CHECK_FALSE(limiter.allow(t0 + 3ms));
  // Refused restarts count too (Erlang records them), so it stays refused...
  CHECK_FALSE(limiter.allow(t0 + 59s));
  // ...until the window has moved past the burst.
  CHECK(limiter.allow(t0 + 59s + 60s));
}

TEST_CASE("max_restarts=0 fails on the first restart" * doctest::timeout(5)) {
  RestartLimiter limiter{0, 1};
  CHECK_FALSE(limiter.allow(t0));
  CHECK_FALSE(limiter.allow(t0 + 10s));
  CHECK(limiter.stored() <= 1);
}

TEST_CASE("the window is (now - over, now]: a restart exactly `over` ago has left it" *
          doctest::timeout(5)) {
  SUBCASE("max_restarts=1: restarts at t and t + over are in separate windows") {
    RestartLimiter limiter{1, 10};
    CHECK(limiter.allow(t0));
    CHECK(limiter.restarts_in_window(t0 + 10s - 1ns) == 1);
    CHECK(limiter.restarts_in_window(t0 + 10s) == 0);
    CHECK(limiter.allow(t0 + 10s));
  }
  SUBCASE("one nanosecond less and both are in one window") {
    RestartLimiter limiter{1, 10};
    CHECK(limiter.allow(t0));
    CHECK_FALSE(limiter.allow(t0 + 10s - 1ns));
  }
  SUBCASE("a sliding window, not fixed buckets") {
    RestartLimiter limiter{2, 1};
    CHECK(limiter.allow(t0 + 900ms));
    CHECK(limiter.allow(t0 + 1100ms));
    // A fixed 1 s bucket starting at t0 + 1 s would hold one restart; the sliding
    // window (t0 + 0.2 s, t0 + 1.2 s] holds three.
    CHECK_FALSE(limiter.allow(t0 + 1200ms));
  }
  SUBCASE("max_restarts=1: restarts exactly `over` apart never fail") {
    RestartLimiter limiter{1, 1};
    for (int i = 0; i < 1000; ++i)
      CHECK(limiter.allow(t0 + i * 1s));
  }
}

TEST_CASE("a fractional max_restarts allows its floor" * doctest::timeout(5)) {
  RestartLimiter limiter{2.5, 1};
  CHECK(limiter.allow(t0));
  CHECK(limiter.allow(t0));
  CHECK_FALSE(limiter.allow(t0));
}

TEST_CASE("unlimited never fails and records nothing" * doctest::timeout(5)) {
  auto limiter = RestartLimiter::unlimited();
  CHECK(limiter.is_unlimited());
  CHECK(std::isinf(limiter.max_restarts()));
  bool all = true;
  for (int i = 0; i < 100000; ++i)
    all = all && limiter.allow(t0);
  CHECK(all);
  CHECK(limiter.stored() == 0);
  CHECK(limiter.restarts_in_window(t0) == 0);
  RestartLimiter infinite{std::numeric_limits<double>::infinity(), 1};
  CHECK(infinite.is_unlimited());
  CHECK(infinite.allow(t0));
}

TEST_CASE("10^6 restarts keep at most max_restarts + 1 timestamps" * doctest::timeout(20)) {
  RestartLimiter limiter{3, 60};
  std::size_t allowed = 0;
  std::size_t most_stored = 0;
  for (int i = 0; i < 1000000; ++i) {
    allowed += limiter.allow(t0 + i * 1us) ? 1 : 0;
    most_stored = std::max(most_stored, limiter.stored());
  }
  CHECK(allowed == 3);
  CHECK(most_stored == 4);
  CHECK(limiter.restarts_in_window(t0 + 1s) == 4);  // capped at the kept ones

  RestartLimiter roomy{100, 0.001};  // 1 ms window, one restart per 10 us: 100 fit
  std::size_t refused = 0;
  for (int i = 0; i < 1000000; ++i)
    refused += roomy.allow(t0 + i * 10us) ? 0 : 1;
  CHECK(refused == 0);
  CHECK(roomy.stored() <= 101);
}

TEST_CASE("reset forgets the recorded restarts" * doctest::timeout(5)) {
  RestartLimiter limiter{1, 60};
  CHECK(limiter.allow(t0));
  CHECK_FALSE(limiter.allow(t0 + 1s));
  limiter.reset();
  CHECK(limiter.stored() == 0);
  CHECK(limiter.allow(t0 + 2s));
}

TEST_CASE("a time point earlier than the last one counts as the last one" * doctest::timeout(5)) {
  RestartLimiter limiter{2, 10};
  CHECK(limiter.allow(t0 + 5s));
  CHECK(limiter.allow(t0));  // taken as t0 + 5 s
  CHECK(limiter.restarts_in_window(t0 + 5s) == 2);
  CHECK_FALSE(limiter.allow(t0 + 14s));
}

TEST_CASE("bad settings throw, naming the value" * doctest::timeout(5)) {
  CHECK_THROWS_WITH_AS(RestartLimiter(-1, 1),
                       doctest::Contains("max_restarts must be >= 0, got -1"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(RestartLimiter(std::nan(""), 1), doctest::Contains("got nan"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(RestartLimiter(3, 0), doctest::Contains("over must be > 0 seconds, got 0s"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(RestartLimiter(3, -5), doctest::Contains("got -5s"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(RestartLimiter(3, "abc"), doctest::Contains("\"abc\""),
                       mode::invalid_seconds);
  CHECK_THROWS_WITH_AS(RestartLimiter(3, 1e-12), doctest::Contains("rounds to 0 ns"),
                       std::invalid_argument);
  CHECK(std::chrono::round<std::chrono::nanoseconds>(RestartLimiter(3, "1/m").over()) ==
        16666667ns);
  CHECK(RestartLimiter(3, 2min).over() == 120s);
}
