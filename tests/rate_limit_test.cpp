// Tests for mode::Bucket, TokenBucket and rate_limit (mode/utils/times.py), with mode's
// own tests ported from tests/functional/utils/test_times.py (each case names the one
// it comes from). The waiting cases run inside a service on virtual time: "spent" is
// virtual seconds, so they assert mode's bounds exactly and sleep nowhere.
#include "mode/rate_limit.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "mode/service.hpp"
#include "mode/testing.hpp"

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

/// A clock the test moves by hand.
struct manual_clock {
  steady::time_point at{};
  std::function<steady::time_point()> fn() {
    return [this] {
      return at;
    };
  }
};

mode::BucketOptions on(manual_clock& clock) {
  mode::BucketOptions opts;
  opts.clock = clock.fn();
  return opts;
}

/// Runs `body` as its one task once started: the test's scenario, on the actor.
class Scenario : public mode::Service {
 public:
  explicit Scenario(std::function<mode::task<void>(Scenario&)> body) : body_(std::move(body)) {
    add_task("Scenario.body", [this] { return run(); });
  }
  bool done = false;
  std::string error;

 private:
  mode::task<void> run() {
    try {
      co_await body_(*this);
    } catch (const std::exception& e) {
      error = e.what();
    }
    done = true;
  }
  std::function<mode::task<void>(Scenario&)> body_;
};

/// Runs `body` in a Scenario on virtual time until it finishes (at most `limit` of
/// virtual time); returns the virtual seconds it took.
double run_scenario(std::function<mode::task<void>(Scenario&)> body, std::string* error = nullptr,
                    std::chrono::seconds limit = 60s) {
  mode::testing::virtual_time_fixture fx;
  auto h = fx.spawn<Scenario>(std::move(body));
  auto& scenario = static_cast<Scenario&>(*h.service());
  auto start = fx.now();
  fx.start(h);
  while (!scenario.done && fx.now() - start < limit)
    fx.advance(10ms);
  REQUIRE(scenario.done);
  auto spent = std::chrono::duration<double>(fx.now() - start).count();
  if (error != nullptr)
    *error = scenario.error;
  else
    CHECK(scenario.error == "");
  fx.stop(h);
  return spent;
}

struct KeyError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace

TEST_CASE("mode: test_times.py::test_Bucket: a refill time in the future leaves the tokens" *
          doctest::timeout(5)) {
  manual_clock clock;
  mode::TokenBucket bucket{10, 1.0, on(clock)};
  bucket.last_pour = clock.at + 100s;  // mode: bucket._last_pour = monotonic() + 100
  CHECK(bucket.tokens() == 1.0);
  clock.at += 50s;
  CHECK(bucket.pour());
  CHECK(bucket.tokens() == 0.0);  // still before the refill time: nothing added
}

TEST_CASE("a bucket is made as mode makes it: capacity `over`, fill rate `rate`, full" *
          doctest::timeout(5)) {
  manual_clock clock;
  auto bucket = mode::rate_limit(10, 3.0, on(clock));
  CHECK(bucket.rate() == 10.0);
  CHECK(bucket.capacity() == 3.0);
  CHECK(bucket.fill_rate() == 10.0);
  CHECK(bucket.tokens() == 3.0);
  CHECK(bucket.raises() == nullptr);
  // Rates as mode's strings.
  CHECK(mode::TokenBucket{"100/m", 2.0, on(clock)}.rate() == 100 / 60.0);
}

TEST_CASE("pour takes tokens while there are enough, refilling at the fill rate" *
          doctest::timeout(5)) {
  manual_clock clock;
  mode::TokenBucket bucket{10, 3.0, on(clock)};
  CHECK(bucket.pour(2));
  CHECK_FALSE(bucket.pour(2));  // 1 left
  CHECK(bucket.tokens() == doctest::Approx(1.0));
  CHECK(bucket.expected_time(2).count() == doctest::Approx(0.1));
  clock.at += 100ms;
  CHECK(bucket.tokens() == doctest::Approx(2.0));
  CHECK(bucket.pour(2));
  CHECK(bucket.expected_time(1).count() == doctest::Approx(0.1));
  CHECK(bucket.expected_time(0).count() == 0.0);
  clock.at += 1h;
  CHECK(bucket.tokens() == 3.0);  // never above the capacity
}

TEST_CASE("an idle full bucket gives no extra tokens once drained (mode's refill fix)" *
          doctest::timeout(5)) {
  manual_clock clock;
  mode::TokenBucket bucket{10, 1.0, on(clock)};
  clock.at += 10s;  // idle, full: mode would keep its refill time 10 s back
  CHECK(bucket.pour());
  clock.at += 1ms;
  // One millisecond refills a hundredth of a token, not 100 tokens capped at one.
  CHECK(bucket.tokens() == doctest::Approx(0.01));
  CHECK_FALSE(bucket.pour());
}

TEST_CASE("fill_rate and capacity options are honoured (mode ignores them)" * doctest::timeout(5)) {
  manual_clock clock;
  auto opts = on(clock);
  opts.fill_rate = "2/s";
  opts.capacity = 5;
  mode::TokenBucket bucket{10, 1.0, opts};
  CHECK(bucket.fill_rate() == 2.0);
  CHECK(bucket.capacity() == 5.0);
  CHECK(bucket.pour(5));
  clock.at += 1s;
  CHECK(bucket.tokens() == doctest::Approx(2.0));
}

TEST_CASE("a fill rate from an overridden fill_rate(), as mode's docs suggest" *
          doctest::timeout(5)) {
  struct Slow : mode::TokenBucket {
    using TokenBucket::TokenBucket;
    double fill_rate() const noexcept override { return 1.0; }
  };
  manual_clock clock;
  Slow bucket{10, 1.0, on(clock)};
  CHECK(bucket.pour());
  clock.at += 500ms;
  CHECK(bucket.tokens() == doctest::Approx(0.5));
  CHECK(bucket.expected_time().count() == doctest::Approx(0.5));
}

TEST_CASE("bad rates, capacities and token counts are errors naming the value" *
          doctest::timeout(5)) {
  manual_clock clock;
  CHECK_THROWS_WITH_AS(mode::TokenBucket(0, 1.0, on(clock)),
                       "mode::Bucket: the rate must be a positive number, not 0",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(mode::TokenBucket(10, -1.0, on(clock)),
                       "mode::Bucket: the capacity must be a positive number, not -1",
                       std::invalid_argument);
  auto opts = on(clock);
  opts.fill_rate = 0;
  CHECK_THROWS_WITH_AS(mode::TokenBucket(10, 1.0, opts),
                       "mode::Bucket: the fill rate must be a positive number, not 0",
                       std::invalid_argument);
  CHECK_THROWS_AS(mode::TokenBucket("10/x", 1.0, on(clock)), mode::invalid_seconds);
  mode::TokenBucket bucket{10, 1.0, on(clock)};
  CHECK_THROWS_WITH_AS(bucket.pour(-1),
                       "mode::Bucket::pour: tokens must be a finite number >= 0, not -1",
                       std::invalid_argument);
  CHECK(bucket.tokens() == 1.0);  // nothing taken, nothing added
}

TEST_CASE("mode: test_times.py::test_rate_limit: 20 acquires at 10/s take about 2 s" *
          doctest::timeout(30)) {
  int x = 0;
  auto spent = run_scenario([&x](Scenario&) -> mode::task<void> {
    auto bucket = mode::rate_limit(10, 1.0);
    for (int i = 0; i < 20; ++i) {
      co_await bucket.acquire();
      ++x;
    }
  });
  CHECK(x == 20);
  CHECK(spent > 0.9);  // mode's bound
  // Each acquire takes a token: one at once, 19 more at 10 per second (mode, which goes
  // on without a token after its one sleep, takes about 1 s).
  CHECK(spent == doctest::Approx(1.9).epsilon(0.02));
}

TEST_CASE("mode: test_times.py::test_pour" * doctest::timeout(30)) {
  std::vector<bool> any_refused;
  bool after_pause = false;
  run_scenario([&](Scenario& svc) -> mode::task<void> {
    auto bucket = mode::rate_limit(10, 1.0);
    for (int i = 0; i < 10; ++i) {
      CHECK(bucket.pour());
      co_await svc.sleep(100ms);
    }
    for (int round = 0; round < 3; ++round) {
      bool refused = false;
      for (int i = 0; i < 10; ++i)
        refused = refused || !bucket.pour();
      any_refused.push_back(refused);
    }
    co_await svc.sleep(400ms);
    after_pause = bucket.pour();
  });
  CHECK(any_refused == std::vector<bool>{true, true, true});
  CHECK(after_pause);
}

TEST_CASE("mode: test_times.py::test_rate_limit_raising" * doctest::timeout(30)) {
  int entered = 0;
  std::string error;
  run_scenario(
      [&entered](Scenario& svc) -> mode::task<void> {
        mode::BucketOptions opts;
        opts.raises = mode::raises<KeyError>();
        auto bucket = mode::rate_limit(10, 1.0, opts);
        for (int i = 0; i < 10; ++i) {
          co_await bucket.acquire();
          ++entered;
          co_await svc.sleep(100ms);
        }
        for (int i = 0; i < 20; ++i) {
          co_await bucket.acquire();
          ++entered;
        }
      },
      &error);
  CHECK(error == "mode: rate limit exceeded (10 per second, capacity 1)");
  // The ten paced ones and the first unpaced one got through; the second raised.
  CHECK(entered == 11);
}

TEST_CASE("acquire raises RateLimitExceeded by name, and refuses a capacity below a token" *
          doctest::timeout(30)) {
  std::string error;
  run_scenario(
      [](Scenario&) -> mode::task<void> {
        mode::BucketOptions opts;
        opts.raises = mode::raises<mode::RateLimitExceeded>();
        auto bucket = mode::rate_limit(1, 1.0, opts);
        co_await bucket.acquire();
        try {
          co_await bucket.acquire();
        } catch (const mode::RateLimitExceeded&) {
          throw std::runtime_error("caught RateLimitExceeded");
        }
      },
      &error);
  CHECK(error == "caught RateLimitExceeded");
  run_scenario(
      [](Scenario&) -> mode::task<void> {
        auto bucket = mode::rate_limit(10, 0.5);
        co_await bucket.acquire();
      },
      &error);
  CHECK(error ==
        "mode::Bucket::acquire(): a capacity of 0.5 tokens can never hold the one it takes");
}

TEST_CASE("acquire off a service's coroutine is a logic_error naming the fix" *
          doctest::timeout(5)) {
  auto bucket = mode::rate_limit(10, 1.0);
  CHECK_THROWS_WITH_AS((void)bucket.acquire(),
                       doctest::Contains("must be awaited from a service's coroutine"),
                       std::logic_error);
  CHECK(bucket.tokens() == 1.0);
}

TEST_CASE("a stop while acquire waits cancels the guarded section" * doctest::timeout(30)) {
  mode::testing::virtual_time_fixture fx;
  bool entered_twice = false;
  auto h = fx.spawn<Scenario>([&entered_twice](Scenario&) -> mode::task<void> {
    auto bucket = mode::rate_limit("1/m", 1.0);
    co_await bucket.acquire();
    co_await bucket.acquire();  // a minute away
    entered_twice = true;
  });
  auto& scenario = static_cast<Scenario&>(*h.service());
  fx.start(h);
  fx.advance(1s);
  CHECK_FALSE(scenario.done);
  fx.stop(h);
  fx.advance(2min);
  CHECK_FALSE(entered_twice);
  CHECK(scenario.error == "mode::CancelledError");
}
