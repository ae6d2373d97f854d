// Cron parsing and next-fire search. See include/mode/cron.hpp and docs/crontab.md.
#include "mode/cron.hpp"

#include "text.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <utility>

#include <fmt/format.h>

namespace mode {

namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using local_minutes = date::local_time<minutes>;

using detail::trim;
using detail::whitespace;

constexpr std::array<std::string_view, 12> month_names = {"jan", "feb", "mar", "apr", "may", "jun",
                                                          "jul", "aug", "sep", "oct", "nov", "dec"};

constexpr std::array<std::string_view, 7> weekday_names = {"sun", "mon", "tue", "wed",
                                                           "thu", "fri", "sat"};

// One of the five columns: its name in messages, its value range and its names.
struct field_info {
  std::string_view name;
  int lo;
  int hi;
  const std::string_view* names;  // names[i] stands for the value names_base + i
  int names_count;
  int names_base;
  std::string_view names_hint;
};

constexpr std::array<field_info, 5> fields = {{
    {"minute", 0, 59, nullptr, 0, 0, ""},
    {"hour", 0, 23, nullptr, 0, 0, ""},
    {"day-of-month", 1, 31, nullptr, 0, 0, ""},
    {"month", 1, 12, month_names.data(), 12, 1, "JAN-DEC"},
    {"day-of-week", 0, 7, weekday_names.data(), 7, 0, "SUN-SAT"},
}};

constexpr int dow_index = 4;

// Aliases as croniter and Vixie cron define them (@reboot is not a schedule).
constexpr std::array<std::pair<std::string_view, std::string_view>, 7> aliases = {{
    {"@yearly", "0 0 1 1 *"},
    {"@annually", "0 0 1 1 *"},
    {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},
    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
}};

// `text` in double quotes, with quotes, backslashes and non-printable bytes escaped, so
// that a message shows exactly what was given. (Not fmt's "{:?}": libspdlog.so 1.10
// exports its own instantiation of fmt 9's formatter, which the dynamic linker may pick
// instead of libfmt's, and that one rejects "{:?}" for some argument types.)
std::string quoted(std::string_view text) {
  std::string result = "\"";
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      result += '\\';
      result += c;
    } else if (c == '\t') {
      result += "\\t";
    } else if (c == '\n') {
      result += "\\n";
    } else if (byte < 0x20 || byte >= 0x7f) {
      result += fmt::format("\\x{:02x}", byte);
    } else {
      result += c;
    }
  }
  result += '"';
  return result;
}

std::string ascii_lower(std::string_view text) {
  std::string result(text);
  for (auto& c : result)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return result;
}

bool all_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Index of the lowest set bit of `mask` at or above `from`, or -1.
int next_bit(std::uint64_t mask, int from) noexcept {
  if (from >= 64)
    return -1;
  auto rest = mask >> from;
  return rest == 0 ? -1 : from + std::countr_zero(rest);
}

// Parses one field into a bit set, throwing cron_error that names the field.
class field_parser {
 public:
  field_parser(std::string_view expression, const field_info& info, std::string_view text)
      : expression_(expression), info_(info), text_(text) {}

  std::uint64_t parse() const {
    std::uint64_t mask = 0;
    std::string_view rest = text_;
    for (;;) {
      auto comma = rest.find(',');
      mask |= parse_element(rest.substr(0, comma));
      if (comma == std::string_view::npos)
        break;
      rest.remove_prefix(comma + 1);
    }
    return mask;
  }

 private:
  [[noreturn]] void fail(std::string_view detail) const {
    throw cron_error(std::string(expression_), std::string(info_.name),
                     fmt::format("{} field {}: {}", info_.name, quoted(text_), detail));
  }

  std::uint64_t parse_element(std::string_view element) const {
    if (element.empty())
      fail("empty list element");
    int step = 1;
    bool has_step = false;
    auto base = element;
    if (auto slash = element.find('/'); slash != std::string_view::npos) {
      has_step = true;
      base = element.substr(0, slash);
      step = parse_step(element.substr(slash + 1), element);
    }
    int lo = 0;
    int hi = 0;
    if (base == "*") {
      lo = info_.lo;
      hi = info_.hi;
    } else if (auto dash = base.find('-'); dash != std::string_view::npos) {
      auto high_text = base.substr(dash + 1);
      if (high_text.find('-') != std::string_view::npos)
        fail(fmt::format("{} has more than one '-'", quoted(element)));
      lo = parse_value(base.substr(0, dash), element);
      hi = parse_value(high_text, element);
      if (lo > hi) {
        // croniter reads FRI-SUN (or 5-0) as 5-7: Sunday closes a weekday range.
        if (&info_ == &fields[dow_index] && hi == 0)
          hi = 7;
        else
          fail(fmt::format("range {} is reversed ({} > {})", quoted(base), lo, hi));
      }
    } else {
      lo = parse_value(base, element);
      // "N/S" means N-max/S, as in croniter.
      hi = has_step ? info_.hi : lo;
    }
    std::uint64_t mask = 0;
    for (int value = lo; value <= hi; value += step)
      mask |= std::uint64_t{1} << value;
    return mask;
  }

  int parse_step(std::string_view text, std::string_view element) const {
    if (text.empty())
      fail(fmt::format("{} has no step after '/'", quoted(element)));
    if (!all_digits(text))
      fail(fmt::format("step {} in {} is not a number", quoted(text), quoted(element)));
    int width = info_.hi - info_.lo + 1;
    int step = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), step);
    if (ec != std::errc{} || end != text.data() + text.size() || step > width)
      fail(fmt::format("step {} in {} is out of range 1-{}", text, quoted(element), width));
    if (step == 0)
      fail(fmt::format("step 0 in {} must be at least 1", quoted(element)));
    return step;
  }

  int parse_value(std::string_view text, std::string_view element) const {
    if (text.empty())
      fail(fmt::format("{} is missing a value", quoted(element)));
    int value = 0;
    if (all_digits(text)) {
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (ec != std::errc{} || end != text.data() + text.size() || value < info_.lo ||
          value > info_.hi)
        fail(fmt::format("{} is out of range {}-{}", text, info_.lo, info_.hi));
      return value;
    }
    if (info_.names == nullptr)
      fail(fmt::format("{} is not a number", quoted(text)));
    auto lower = ascii_lower(text);
    for (int i = 0; i < info_.names_count; ++i)
      if (info_.names[i] == lower)
        return info_.names_base + i;
    fail(fmt::format("{} is neither a number nor a name ({})", quoted(text), info_.names_hint));
  }

  std::string_view expression_;
  const field_info& info_;
  std::string_view text_;
};

}  // namespace

// -- errors -------------------------------------------------------------------

cron_error::cron_error(std::string expression, std::string field, std::string_view detail)
    : std::invalid_argument(
          fmt::format("invalid cron expression {}: {}", quoted(expression), detail)),
      expression_(std::move(expression)),
      field_(std::move(field)) {}

timezone_error::timezone_error(std::string name, const std::string& what)
    : std::invalid_argument(what), name_(std::move(name)) {}

// -- parsing ------------------------------------------------------------------

CronSchedule CronSchedule::parse(std::string_view expr) {
  CronSchedule result;
  result.expression_ = std::string(expr);
  auto fail = [&](std::string_view detail) -> cron_error {
    return cron_error(result.expression_, "", detail);
  };
  auto text = trim(expr);
  if (text.empty())
    throw fail("it is empty");
  if (text.front() == '@') {
    auto lower = ascii_lower(text);
    auto i = std::find_if(aliases.begin(), aliases.end(),
                          [&](const auto& alias) { return alias.first == lower; });
    if (i == aliases.end())
      throw fail(
          fmt::format("unknown alias {} (known: @yearly, @annually, @monthly, "
                      "@weekly, @daily, @midnight, @hourly)",
                      quoted(text)));
    text = i->second;
  }
  std::array<std::string_view, 5> columns;
  std::size_t count = 0;
  for (auto rest = text; !rest.empty();) {
    auto end = rest.find_first_of(whitespace);
    if (count < columns.size())
      columns[count] = rest.substr(0, end);
    ++count;
    if (end == std::string_view::npos)
      break;
    rest = trim(rest.substr(end));
  }
  if (count != columns.size())
    throw fail(
        fmt::format("expected 5 fields (minute hour day-of-month month day-of-week), "
                    "got {}",
                    count));
  std::array<std::uint64_t, 5> masks{};
  for (std::size_t i = 0; i < columns.size(); ++i)
    masks[i] = field_parser{result.expression_, fields[i], columns[i]}.parse();
  result.minutes_ = masks[0];
  result.hours_ = static_cast<std::uint32_t>(masks[1]);
  result.days_ = static_cast<std::uint32_t>(masks[2]);
  result.months_ = static_cast<std::uint16_t>(masks[3]);
  // Day 7 is Sunday, like day 0.
  result.weekdays_ = static_cast<std::uint8_t>((masks[4] | (masks[4] >> 7)) & 0x7f);
  // Vixie cron decides "restricted" by the first character, so "*/2" counts as '*'.
  result.dom_star_ = columns[2].front() == '*';
  result.dow_star_ = columns[4].front() == '*';
  result.fires_ever_ = result.compute_fires_ever();
  return result;
}

// -- matching -----------------------------------------------------------------

bool CronSchedule::day_matches(date::year_month_day ymd, date::weekday wd) const noexcept {
  bool dom = (days_ >> unsigned{ymd.day()}) & 1;
  bool dow = (weekdays_ >> wd.c_encoding()) & 1;
  return dom_star_ || dow_star_ ? dom && dow : dom || dow;
}

bool CronSchedule::matches(date::local_seconds t) const noexcept {
  auto day = std::chrono::floor<date::days>(t);
  auto time = date::hh_mm_ss<seconds>{t - day};
  date::year_month_day ymd{day};
  return time.seconds().count() == 0 && ((minutes_ >> time.minutes().count()) & 1) &&
         ((hours_ >> time.hours().count()) & 1) && ((months_ >> unsigned{ymd.month()}) & 1) &&
         day_matches(ymd, date::weekday{day});
}

bool CronSchedule::compute_fires_ever() const noexcept {
  // The Gregorian calendar repeats every 400 years (146097 days, a whole number of
  // weeks), so a day pattern that matches nowhere in one cycle matches nowhere at all.
  using namespace date;
  for (int y = 2000; y < 2400; ++y) {
    for (unsigned m = 1; m <= 12; ++m) {
      if (!((months_ >> m) & 1))
        continue;
      auto first = year{y} / month{m} / 1;
      auto last = unsigned{(year{y} / month{m} / date::last).day()};
      auto wd = weekday{sys_days{first}};
      for (unsigned d = 1; d <= last; ++d, ++wd)
        if (day_matches(year{y} / month{m} / day{d}, wd))
          return true;
    }
  }
  return false;
}

std::optional<CronSchedule::local_minutes> CronSchedule::next_match(local_minutes from,
                                                                    date::local_days last) const {
  using namespace date;
  auto day = std::chrono::floor<days>(from);
  auto minute_of_day = static_cast<int>((from - day).count());
  int hour = minute_of_day / 60;
  int minute = minute_of_day % 60;
  while (day <= last) {
    year_month_day ymd{day};
    auto m = unsigned{ymd.month()};
    if (!((months_ >> m) & 1)) {
      // Jump to the first day of the next month the schedule names (months_ != 0).
      auto y = ymd.year();
      do {
        if (++m > 12) {
          m = 1;
          ++y;
        }
      } while (!((months_ >> m) & 1));
      day = local_days{y / month{m} / 1};
      hour = minute = 0;
      continue;
    }
    if (day_matches(ymd, weekday{day})) {
      for (int h = next_bit(hours_, hour); h >= 0; h = next_bit(hours_, h + 1)) {
        int mi = next_bit(minutes_, h == hour ? minute : 0);
        if (mi >= 0)
          return day + std::chrono::hours{h} + minutes{mi};
      }
    }
    day += days{1};
    hour = minute = 0;
  }
  return std::nullopt;
}

std::optional<std::chrono::sys_seconds> CronSchedule::next_fire(std::chrono::sys_seconds after,
                                                                const date::time_zone* tz) const {
  using namespace date;
  static const sys_seconds earliest = sys_days{year{1} / January / 1};
  static const sys_seconds latest = sys_days{year{10000} / January / 1} - seconds{1};
  if (after < earliest || after > latest)
    throw std::out_of_range(
        fmt::format("CronSchedule::next_fire: {} s since the epoch is outside the years 0001-9999",
                    after.time_since_epoch().count()));
  if (!fires_ever_)
    return std::nullopt;
  auto start = tz != nullptr ? tz->to_local(after) : local_seconds{after.time_since_epoch()};
  auto from = std::chrono::floor<minutes>(start) + minutes{1};
  // Any day pattern that matches at all matches within one 400-year cycle; the margin
  // covers wall times that a zone skips. Never beyond 9999-12-31.
  auto last = std::min(std::chrono::floor<days>(from) + days{146097 + 366},
                       local_days{year{9999} / December / 31});
  while (auto candidate = next_match(from, last)) {
    if (tz == nullptr)
      return sys_seconds{candidate->time_since_epoch()};
    auto info = tz->get_info(*candidate);
    // A nonexistent wall time is skipped; an ambiguous one fires at its first
    // occurrence (info.first is the earlier offset), so the second one never does.
    if (info.result != local_info::nonexistent) {
      auto fire = sys_seconds{(*candidate - info.first.offset).time_since_epoch()};
      if (fire > after)
        return fire;
    }
    from = *candidate + minutes{1};
  }
  return std::nullopt;
}

// -- free functions -----------------------------------------------------------

const date::time_zone* want_timezone(std::string_view name) {
  if (name.empty() || name == "UTC")
    return nullptr;
  try {
    return date::locate_zone(name);
  } catch (const std::exception& e) {
    throw timezone_error(std::string(name),
                         fmt::format("unknown time zone {} ({})", quoted(name), e.what()));
  }
}

double secs_for_next(const CronSchedule& schedule, std::chrono::system_clock::time_point now,
                     const date::time_zone* tz) {
  auto next = schedule.next_fire(std::chrono::floor<seconds>(now), tz);
  if (!next) {
    if (!schedule.fires_ever())
      throw cron_error(schedule.expression(), "",
                       "it never fires: no date matches its day-of-month, month and "
                       "day-of-week fields");
    throw cron_error(schedule.expression(), "",
                     fmt::format("it does not fire again within 400 years in time zone {}",
                                 tz != nullptr ? tz->name() : std::string("UTC")));
  }
  return std::chrono::duration<double>(*next - now).count();
}

double secs_for_next(std::string_view cron_format, std::chrono::system_clock::time_point now,
                     const date::time_zone* tz) {
  return secs_for_next(CronSchedule::parse(cron_format), now, tz);
}

}  // namespace mode
