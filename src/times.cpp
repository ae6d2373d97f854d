#include "mode/times.hpp"

#include "text.hpp"

#include <charconv>
#include <cmath>
#include <system_error>

#include <fmt/format.h>

namespace mode {

namespace {

using detail::trim;
using detail::whitespace;

// Quotes `text` for an error message, escaping what would garble a log line.
std::string quoted(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (char ch : text) {
    auto byte = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (byte < 0x20 || byte == 0x7f) {
      out += fmt::format("\\x{:02x}", byte);
    } else {
      out += ch;
    }
  }
  out += '"';
  return out;
}

[[noreturn]] void fail(std::string_view input, std::string_view why) {
  throw invalid_seconds(fmt::format(
      "invalid Seconds value {}: {} (expected a number of seconds or a rate \"N\", \"N/s\", "
      "\"N/m\", \"N/h\" or \"N/d\")",
      quoted(input), why));
}

/// `n` per `unit`, divided step by step as mode does (`n / 60.0 / 60.0` for "h"), so
/// that the result equals mode's to the last bit (`n / 3600.0` can differ by an ulp).
double per_unit(std::string_view input, std::string_view unit, double n) {
  if (unit == "s")
    return n;
  if (unit == "m")
    return n / 60.0;
  if (unit == "h")
    return n / 60.0 / 60.0;
  if (unit == "d")
    return n / 60.0 / 60.0 / 24.0;
  fail(input, fmt::format("unknown unit {}", quoted(unit)));
}

double parse_number(std::string_view input, std::string_view number) {
  if (number.empty())
    fail(input, "missing number");
  // from_chars takes no leading '+', Python's float() does; "+-1" stays an error.
  if (number.size() > 1 && number.front() == '+' && number[1] != '-' && number[1] != '+')
    number.remove_prefix(1);
  double value = 0.0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec == std::errc::result_out_of_range)
    fail(input, "number out of range");
  if (ec != std::errc{} || end != number.data() + number.size())
    fail(input, fmt::format("{} is not a number", quoted(number)));
  if (!std::isfinite(value))
    fail(input, "not a finite number");
  return value;
}

}  // namespace

namespace detail {

double checked_seconds(double value) {
  if (!std::isfinite(value))
    throw invalid_seconds(
        fmt::format("invalid Seconds value \"{}\": not a finite number of seconds", value));
  return value;
}

void throw_seconds_out_of_range(double value, long double limit) {
  throw std::out_of_range(
      fmt::format("Seconds value \"{}\" is out of range for the target duration (at most +-{} s)",
                  value, static_cast<double>(limit)));
}

}  // namespace detail

double rate(std::string_view text) {
  auto body = trim(text);
  if (body.empty())
    fail(text, "empty");
  auto slash = body.find('/');
  if (slash == std::string_view::npos)
    return parse_number(text, body);
  auto unit = trim(body.substr(slash + 1));
  if (unit.find('/') != std::string_view::npos)
    fail(text, "more than one '/'");
  if (unit.empty())
    fail(text, "missing unit after '/'");
  auto n = parse_number(text, trim(body.substr(0, slash)));
  return per_unit(text, unit, n);
}

Seconds::Seconds(std::string_view text) : value_(rate(text)) {}

Seconds::Seconds(const char* text) {
  if (text == nullptr)
    throw invalid_seconds(
        "invalid Seconds value: a null const char* (pass nullptr or 0 for mode's None)");
  value_ = rate(std::string_view{text});
}

std::chrono::nanoseconds to_nanoseconds(const Seconds& s) {
  return s.as<std::chrono::nanoseconds>();
}

std::string to_string(const Seconds& s) {
  return fmt::format("{}s", s.count());
}

namespace {

struct time_unit {
  const char* name;
  double seconds;
};

// mode's TIME_UNITS, largest first.
constexpr time_unit time_units[] = {
    {"day", 60 * 60 * 24.0}, {"hour", 60 * 60.0}, {"minute", 60.0}, {"second", 1.0}};

std::string humanize(double secs, std::string_view prefix, std::string_view suffix,
                     std::string_view sep, std::string_view now, bool microseconds) {
  // mode: float(format(secs, ".2f")); both round to nearest on the binary value.
  auto rounded = fmt::format("{:.2f}", secs);
  double value = 0.0;
  std::from_chars(rounded.data(), rounded.data() + rounded.size(), value);
  for (const auto& unit : time_units) {
    if (value >= unit.seconds) {
      double w = value / unit.seconds;
      // mode's pluralize(int(w), unit): int() truncates, so 1.5 days is "1.50 day".
      bool plural = static_cast<long long>(w) != 1;
      return fmt::format("{}{}{:.2f} {}{}{}", prefix, sep, w, unit.name, plural ? "s" : "", suffix);
    }
  }
  if (microseconds && value > 0.0)
    return fmt::format("{}{}{:.2f} seconds{}", prefix, sep, value, suffix);
  return std::string{now};
}

}  // namespace

std::string humanize_seconds(const Seconds& secs, const HumanizeOptions& opts) {
  return humanize(secs.count(), opts.prefix, opts.suffix, opts.sep, opts.now, opts.microseconds);
}

std::string humanize_seconds_ago(const Seconds& secs, const HumanizeAgoOptions& opts) {
  return humanize(secs.count(), opts.prefix, opts.suffix, opts.sep, opts.now, opts.microseconds);
}

}  // namespace mode
