// Tests for mode::Seconds, want_seconds, rate and humanize_seconds (mode/utils/times.py).
// Cases named "mode: test_times.py::..." are mode's own (tests/functional/utils/
// test_times.py) with its tables; its Bucket tests are in rate_limit_test.cpp.
#include "mode/times.hpp"

#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using mode::Seconds;

namespace {

// Takes Seconds the way mode's APIs take `Seconds`: callers pass anything accepted.
double takes_seconds(Seconds s) {
  return mode::want_seconds(s);
}

}  // namespace

// Only durations, numbers and strings convert; bool and characters are bugs.
static_assert(std::is_convertible_v<std::chrono::milliseconds, Seconds>);
static_assert(std::is_convertible_v<double, Seconds>);
static_assert(std::is_convertible_v<const char*, Seconds>);
static_assert(!std::is_convertible_v<bool, Seconds>);
static_assert(!std::is_convertible_v<char, Seconds>);
static_assert(!std::is_convertible_v<char32_t, Seconds>);

TEST_CASE("Seconds from numbers, as mode's float/int" * doctest::timeout(5)) {
  CHECK(takes_seconds(1.5) == 1.5);
  CHECK(takes_seconds(2) == 2.0);
  CHECK(takes_seconds(3u) == 3.0);
  CHECK(takes_seconds(0.25f) == 0.25);
  CHECK(takes_seconds(-1) == -1.0);  // mode allows negatives
  CHECK(Seconds{}.count() == 0.0);
  CHECK(takes_seconds(nullptr) == 0.0);  // mode: want_seconds(None) == 0
}

TEST_CASE("Seconds rejects NaN and infinities, quoting them" * doctest::timeout(5)) {
  auto nan = std::numeric_limits<double>::quiet_NaN();
  auto inf = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH_AS(Seconds{nan}, doctest::Contains("\"nan\""), mode::invalid_seconds);
  CHECK_THROWS_WITH_AS(Seconds{inf}, doctest::Contains("\"inf\""), mode::invalid_seconds);
  CHECK_THROWS_WITH_AS(Seconds{-inf}, doctest::Contains("\"-inf\""), mode::invalid_seconds);
  CHECK_THROWS_AS(Seconds{std::chrono::duration<double>{nan}}, mode::invalid_seconds);
  using float_ms = std::chrono::duration<float, std::milli>;
  CHECK_THROWS_AS(Seconds{float_ms{inf}}, std::invalid_argument);
}

TEST_CASE("Seconds from std::chrono durations, as mode's timedelta" * doctest::timeout(5)) {
  CHECK(takes_seconds(1500ms) == 1.5);
  CHECK(takes_seconds(2min) == 120.0);
  CHECK(takes_seconds(1h) == 3600.0);
  CHECK(takes_seconds(250us) == doctest::Approx(0.00025));
  CHECK(takes_seconds(std::chrono::duration<double>{0.1}) == 0.1);
  CHECK(takes_seconds(-3s) == -3.0);
}

TEST_CASE("Seconds from rate strings, as mode's rate()" * doctest::timeout(5)) {
  CHECK(takes_seconds("10") == 10.0);
  CHECK(takes_seconds("10/s") == 10.0);
  CHECK(takes_seconds("60/m") == 1.0);
  CHECK(takes_seconds("1/m") == doctest::Approx(1.0 / 60));
  CHECK(takes_seconds("3600/h") == 1.0);
  CHECK(takes_seconds("7200/h") == 2.0);
  CHECK(takes_seconds("86400/d") == 1.0);
  CHECK(takes_seconds("1.5/m") == doctest::Approx(0.025));
  CHECK(takes_seconds("  1.5/m\t") == doctest::Approx(0.025));
  CHECK(takes_seconds("1 / m") == doctest::Approx(1.0 / 60));
  CHECK(takes_seconds("+2") == 2.0);
  CHECK(takes_seconds("-1/s") == -1.0);
  CHECK(takes_seconds("1e3") == 1000.0);
  CHECK(takes_seconds(".5") == 0.5);
  CHECK(takes_seconds(std::string{"30/m"}) == 0.5);
  CHECK(takes_seconds(std::string_view{"120/m"}) == 2.0);
  CHECK(mode::rate("100/s") == 100.0);
  CHECK(mode::rate("6/m") == doctest::Approx(0.1));
}

TEST_CASE("rate strings equal mode's values to the last bit (divided as mode divides)" *
          doctest::timeout(5)) {
  // mode (mode/utils/times.py): "h" is n / 60.0 / 60.0, which is not always n / 3600.0.
  volatile double n = 100.0;  // not folded by the compiler: the same IEEE steps as Python
  CHECK(mode::want_seconds(mode::Seconds{"100/h"}) == n / 60.0 / 60.0);
  CHECK(n / 60.0 / 60.0 != n / 3600.0);  // the case that was one ulp off
  CHECK(mode::rate("100/m") == n / 60.0);
  CHECK(mode::rate("100/d") == n / 60.0 / 60.0 / 24.0);
}

TEST_CASE("malformed rate strings throw invalid_seconds quoting the input" * doctest::timeout(5)) {
  const char* bad[] = {"abc", "1/x",  "",     "1/s/s", "1/",  "/s",    "nan",
                       "inf", "-inf", "1/S",  "1s",    "1 s", "1..2",  "+-1",
                       "++1", "0x10", "1/ms", "   ",   "1/-", "1e999", "infinity"};
  for (const char* text : bad) {
    CAPTURE(text);
    std::string quoted = std::string{"\""} + text + "\"";
    CHECK_THROWS_WITH_AS(Seconds{text}, doctest::Contains(quoted.c_str()), mode::invalid_seconds);
    CHECK_THROWS_AS(static_cast<void>(mode::rate(text)), std::invalid_argument);
  }
  // Control characters are escaped, so the message stays one readable line.
  CHECK_THROWS_WITH_AS(Seconds{std::string_view("1\n2", 3)}, doctest::Contains("\"1\\x0a2\""),
                       mode::invalid_seconds);
  const char* null_text = nullptr;
  CHECK_THROWS_AS(Seconds{null_text}, mode::invalid_seconds);
}

TEST_CASE("Seconds::as rounds to the nearest tick and rejects overflow" * doctest::timeout(5)) {
  CHECK(Seconds{1.5}.as<std::chrono::milliseconds>() == 1500ms);
  CHECK(Seconds{0.0014}.as<std::chrono::milliseconds>() == 1ms);
  CHECK(Seconds{0.0016}.as<std::chrono::milliseconds>() == 2ms);
  CHECK(Seconds{-0.0016}.as<std::chrono::milliseconds>() == -2ms);
  CHECK(Seconds{1.0000000006}.as<std::chrono::nanoseconds>() == 1000000001ns);
  CHECK(Seconds{90}.as<std::chrono::minutes>() == 2min);  // 1.5 min: halves away from zero
  CHECK(Seconds{0.25}.as<std::chrono::duration<double, std::milli>>().count() == 250.0);
  CHECK(Seconds{0.1}.duration() == std::chrono::duration<double>{0.1});
  CHECK(mode::to_nanoseconds(Seconds{"1/m"}) == 16666667ns);
  CHECK(mode::to_nanoseconds(Seconds{-2.5}) == -2500ms);
  CHECK_THROWS_WITH_AS(static_cast<void>(Seconds{1e12}.as<std::chrono::nanoseconds>()),
                       doctest::Contains("\"1000000000000\""), std::out_of_range);
  CHECK_THROWS_AS(static_cast<void>(Seconds{-1e12}.as<std::chrono::nanoseconds>()),
                  std::out_of_range);
  CHECK_THROWS_AS(static_cast<void>(Seconds{3e9}.as<std::chrono::duration<std::int32_t>>()),
                  std::out_of_range);
  CHECK(Seconds{2e9}.as<std::chrono::duration<std::int32_t>>().count() == 2000000000);
}

TEST_CASE("Seconds compare by value across the accepted forms" * doctest::timeout(5)) {
  CHECK(Seconds{"60/m"} == Seconds{1s});
  CHECK(Seconds{1} == 1000ms);
  CHECK(Seconds{"1/m"} < Seconds{1});
  CHECK(Seconds{2min} > "60");
  CHECK(Seconds{-1} < Seconds{});
  CHECK(Seconds{0.5} != Seconds{"1"});
  CHECK(Seconds{0.5} <= Seconds{"30/m"});
}

TEST_CASE("to_string gives the shortest text that reads back" * doctest::timeout(5)) {
  CHECK(mode::to_string(Seconds{1.5}) == "1.5s");
  CHECK(mode::to_string(Seconds{0.1}) == "0.1s");
  CHECK(mode::to_string(Seconds{-2}) == "-2s");
  CHECK(mode::to_string(Seconds{100ms}) == "0.1s");
}

TEST_CASE("mode: test_times.py::test_want_seconds" * doctest::timeout(5)) {
  CHECK(mode::want_seconds(1.234) == 1.234);
  CHECK(mode::want_seconds("1.234") == 1.234);
  CHECK(mode::want_seconds("10/s") == 10.0);
  CHECK(mode::want_seconds("10/m") == 0.16666666666666666);
  CHECK(mode::want_seconds("8.3/m") == 0.13833333333333334);
  CHECK(mode::want_seconds("100/h") == 0.02777777777777778);
  CHECK(mode::want_seconds("1333/d") == 0.01542824074074074);
  CHECK(mode::want_seconds(1) == 1);
  CHECK(mode::want_seconds(std::chrono::duration<double>{1.234}) == 1.234);
}

TEST_CASE("mode: test_times.py::test_rate" * doctest::timeout(5)) {
  CHECK(mode::want_seconds(10.1) == 10.1);  // mode's rate(float) is the float
  CHECK(mode::rate("1/s") == 1.0);
  CHECK(mode::rate("10/s") == 10.0);
  CHECK(mode::rate("10/m") == doctest::Approx(0.16666666666666666).epsilon(1e-1));
  CHECK(mode::rate("10/h") == doctest::Approx(0.0027777777777777775).epsilon(1e-1));
  CHECK(mode::rate("10/d") == doctest::Approx(0.00011574074074074073).epsilon(1e-1));
  CHECK(mode::want_seconds(19) == 19.0);
  CHECK(mode::want_seconds(nullptr) == 0.0);  // mode: rate(None) == 0.0
}

TEST_CASE("mode: test_times.py::test_humanize_seconds" * doctest::timeout(5)) {
  struct row {
    double seconds;
    bool microseconds;
    const char* now;  // nullptr: mode's default, "now"
    const char* expected;
  };
  const row table[] = {
      {4 * 60 * 60 * 24, false, nullptr, "4.00 days"},
      {1 * 60 * 60 * 24, false, nullptr, "1.00 day"},
      {4 * 60 * 60, false, nullptr, "4.00 hours"},
      {1 * 60 * 60, false, nullptr, "1.00 hour"},
      {4 * 60, false, nullptr, "4.00 minutes"},
      {1 * 60, false, nullptr, "1.00 minute"},
      {4, false, nullptr, "4.00 seconds"},
      {1, false, nullptr, "1.00 second"},
      {4.3567631221, false, nullptr, "4.36 seconds"},
      {4.3567631221, true, nullptr, "4.36 seconds"},
      {0.36, false, nullptr, "now"},
      {0.36, false, "0 seconds", "0 seconds"},
      {0.36, true, nullptr, "0.36 seconds"},
      {0, false, nullptr, "now"},
      {0, false, "0 seconds", "0 seconds"},
  };
  for (const auto& r : table) {
    CAPTURE(r.seconds);
    CAPTURE(r.microseconds);
    mode::HumanizeOptions opts;
    opts.microseconds = r.microseconds;
    if (r.now != nullptr)
      opts.now = r.now;
    CHECK(mode::humanize_seconds(r.seconds, opts) == r.expected);
  }
}

TEST_CASE("mode: test_times.py::test_humanize_seconds__prefix" * doctest::timeout(5)) {
  CHECK(mode::humanize_seconds(4, {.prefix = "about "}) == "about 4.00 seconds");
}

TEST_CASE("humanize_seconds: units, rounding first, sep and suffix as mode's" *
          doctest::timeout(5)) {
  // Rounded to 2 decimals before the unit is chosen: 59.999 s is "1.00 minute".
  CHECK(mode::humanize_seconds(59.999) == "1.00 minute");
  CHECK(mode::humanize_seconds(0.994, {.microseconds = true}) == "0.99 seconds");
  CHECK(mode::humanize_seconds(0.996) == "1.00 second");
  CHECK(mode::humanize_seconds(0.995) == "now");  // 0.99499... in binary, as in Python
  // mode pluralizes by the whole part: 1.5 days is "1.50 day".
  CHECK(mode::humanize_seconds(1.5 * 86400) == "1.50 day");
  CHECK(mode::humanize_seconds(90min) == "1.50 hour");
  CHECK(mode::humanize_seconds(2h) == "2.00 hours");
  CHECK(mode::humanize_seconds("120/m") == "2.00 seconds");
  CHECK(mode::humanize_seconds(10, {.prefix = "in", .suffix = "!", .sep = " "}) ==
        "in 10.00 seconds!");
  // Prefix and suffix are left off "now"; so are negative values' units (mode's too).
  CHECK(mode::humanize_seconds(0.2, {.prefix = "in "}) == "now");
  CHECK(mode::humanize_seconds(-5) == "now");
  CHECK(mode::humanize_seconds(0.001, {.microseconds = true}) == "now");  // rounds to 0.00
}

TEST_CASE("humanize_seconds_ago: mode's \" ago\" and \"just now\"" * doctest::timeout(5)) {
  CHECK(mode::humanize_seconds_ago(3.333) == "3.33 seconds ago");
  CHECK(mode::humanize_seconds_ago(0.5) == "just now");
  CHECK(mode::humanize_seconds_ago(7200, {.prefix = "~"}) == "~2.00 hours ago");
}
