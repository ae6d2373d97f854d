// mode::Seconds, want_seconds, rate and humanize_seconds: mode's `Seconds` type and its
// text forms (mode/utils/times.py). Rate limiting (Bucket) is in mode/rate_limit.hpp.
#pragma once

#include <chrono>
#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

namespace mode {

/// Seconds as a floating-point std::chrono duration.
using seconds_f = std::chrono::duration<double>;

/// Thrown for a value that is no valid Seconds: a malformed rate string, a NaN or an
/// infinite number. what() quotes the offending input.
class invalid_seconds : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

namespace detail {

/// Arithmetic types accepted as a number of seconds: bool and the character types
/// are excluded, because `Seconds('5')` or `Seconds(true)` is a bug, not a duration.
template <class T>
concept seconds_number =
    std::is_arithmetic_v<T> && !std::is_same_v<std::remove_cv_t<T>, bool> &&
    !std::is_same_v<std::remove_cv_t<T>, char> && !std::is_same_v<std::remove_cv_t<T>, wchar_t> &&
    !std::is_same_v<std::remove_cv_t<T>, char8_t> &&
    !std::is_same_v<std::remove_cv_t<T>, char16_t> &&
    !std::is_same_v<std::remove_cv_t<T>, char32_t>;

/// Returns `value` if it is finite, else throws invalid_seconds quoting it.
double checked_seconds(double value);

/// Throws std::out_of_range: `value` seconds do not fit a duration whose range is
/// +-`limit` seconds.
[[noreturn]] void throw_seconds_out_of_range(double value, long double limit);

}  // namespace detail

/// A number of seconds, as mode's `Seconds` (`Union[timedelta, float, str]`).
///
/// Implicitly constructible from what mode accepts, so APIs can take `Seconds` and
/// callers pass whatever is handy:
/// - any std::chrono::duration (mode: a timedelta);
/// - any arithmetic type, read as seconds (mode: a float or int); negative values are
///   allowed as in mode, NaN and infinities throw invalid_seconds;
/// - a rate string (mode: a str, parsed by rate()): "N" or "N/s" is N, "N/m" is N/60,
///   "N/h" is N/60/60, "N/d" is N/60/60/24 (see rate()). N is a decimal number ("1.5", "-2",
///   "1e3"); whitespace around N and the unit is ignored. Anything else ("abc", "1/x", "", "1/s/s",
///   "1/", "/s", "nan", "inf") throws invalid_seconds quoting the text;
/// - nullptr (mode: None), which is 0.
///
/// The value is held as a finite double count of seconds.
class Seconds {
 public:
  // -- constructors -------------------------------------------------------------

  /// Zero seconds.
  constexpr Seconds() noexcept = default;

  /// Zero seconds: mode's `want_seconds(None)`.
  constexpr Seconds(std::nullptr_t) noexcept {}

  /// A number of seconds. Throws invalid_seconds for NaN or an infinity.
  template <detail::seconds_number T>
  Seconds(T number) : value_(detail::checked_seconds(static_cast<double>(number))) {}

  /// A std::chrono duration. Throws invalid_seconds for a NaN or infinite count.
  template <class Rep, class Period>
  requires std::is_arithmetic_v<Rep> Seconds(std::chrono::duration<Rep, Period> d)
      : value_(detail::checked_seconds(seconds_f{d}.count())) {}

  /// A rate string (see the class comment). Throws invalid_seconds when malformed.
  Seconds(std::string_view text);

  /// A rate string. Throws invalid_seconds when malformed or a null pointer.
  Seconds(const char* text);

  /// A rate string. Throws invalid_seconds when malformed.
  Seconds(const std::string& text) : Seconds(std::string_view{text}) {}

  // -- observers ----------------------------------------------------------------

  /// The value in seconds (mode: `want_seconds(s)`).
  [[nodiscard]] constexpr double count() const noexcept { return value_; }

  /// The value as a floating-point duration in seconds.
  [[nodiscard]] constexpr seconds_f duration() const noexcept { return seconds_f{value_}; }

  /// The value converted to the duration `D`. For an integral `D::rep` the result is
  /// rounded to the nearest tick (halves away from zero); a value that does not fit
  /// `D` throws std::out_of_range quoting it (never a wrapped-around duration).
  template <class D>
  [[nodiscard]] D as() const {
    using rep = typename D::rep;
    using period = typename D::period;
    if constexpr (std::chrono::treat_as_floating_point_v<rep>) {
      return std::chrono::duration_cast<D>(duration());
    } else {
      // Scale in long double: int64's extremes are exact there, so the range check
      // below is exact at the edges.
      auto ticks = static_cast<long double>(value_) * period::den / period::num;
      auto rounded = ticks < 0 ? -std::floor(-ticks + 0.5L) : std::floor(ticks + 0.5L);
      if (!(rounded >= static_cast<long double>(std::numeric_limits<rep>::min()) &&
            rounded <= static_cast<long double>(std::numeric_limits<rep>::max())))
        detail::throw_seconds_out_of_range(
            value_,
            static_cast<long double>(std::numeric_limits<rep>::max()) * period::num / period::den);
      return D{static_cast<rep>(rounded)};
    }
  }

  // -- comparison ---------------------------------------------------------------

  /// Compares by value; never NaN, so the ordering is total in practice.
  friend constexpr auto operator<=>(const Seconds&, const Seconds&) = default;

  /// Equal when the second counts are equal.
  friend constexpr bool operator==(const Seconds&, const Seconds&) = default;

 private:
  double value_ = 0.0;
};

/// mode's `want_seconds(s)`: the value in seconds as a float.
[[nodiscard]] inline double want_seconds(const Seconds& s) noexcept {
  return s.count();
}

/// mode's `rate(r)` for a string: "N" or "N/s" is N, "N/m" N / 60.0, "N/h"
/// N / 60.0 / 60.0, "N/d" N / 60.0 / 60.0 / 24.0 (divided in mode's steps, so the
/// value equals mode's exactly). Throws invalid_seconds (quoting `text`) when it is
/// malformed: "" is an error, as in mode (float("") raises ValueError), and so is "N/".
[[nodiscard]] double rate(std::string_view text);

/// The value as std::chrono::nanoseconds, rounded to the nearest nanosecond; throws
/// std::out_of_range beyond about +-292 years. For timers and delayed messages.
[[nodiscard]] std::chrono::nanoseconds to_nanoseconds(const Seconds& s);

/// Text for logs and messages: the shortest decimal that reads back the same, with
/// an "s" suffix ("1.5s", "0.1s", "-2s").
[[nodiscard]] std::string to_string(const Seconds& s);

/// The keyword arguments of humanize_seconds (mode's names and defaults).
struct HumanizeOptions {
  /// Put before the number, unless the result is `now` ("in " gives "in 1.00 second").
  std::string prefix{};
  /// Put after the unit, unless the result is `now`.
  std::string suffix{};
  /// Put between prefix and number.
  std::string sep{};
  /// The text for less than a second (or for less than 0.005 s with `microseconds`).
  std::string now = "now";
  /// Show less than a second as "0.36 seconds" instead of `now`.
  bool microseconds = false;
};

/// mode's humanize_seconds: 60 is "1.00 minute", 7200 "2.00 hours", 4.3567 "4.36
/// seconds", 0.36 "now". The value is rounded to 2 decimals first, then shown in the
/// largest unit (day, hour, minute, second) it reaches, with 2 decimals; the unit is
/// plural unless the whole part is 1 ("1.50 day", as mode prints it).
[[nodiscard]] std::string humanize_seconds(const Seconds& secs, const HumanizeOptions& opts = {});

/// The keyword arguments of humanize_seconds_ago: those of humanize_seconds with mode's
/// defaults for the "ago" form.
struct HumanizeAgoOptions {
  std::string prefix{};
  std::string suffix = " ago";
  std::string sep{};
  std::string now = "just now";
  bool microseconds = false;
};

/// mode's humanize_seconds_ago: "3.33 seconds ago", and "just now" under a second.
[[nodiscard]] std::string humanize_seconds_ago(const Seconds& secs,
                                               const HumanizeAgoOptions& opts = {});

}  // namespace mode
