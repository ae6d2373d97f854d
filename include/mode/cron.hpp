// Crontab schedules: 5-field cron expressions evaluated in a time zone.
//
// mode's `Service.crontab(cron_format, timezone=None)` sleeps for
// `mode.utils.cron.secs_for_next(cron_format, tz)` seconds (croniter underneath), runs
// the callback and repeats. This header is the framework-neutral half of that: parsing
// (errors at registration, not at first fire) and next-fire maths. The dialect, the time
// zone default and the DST rules are described in docs/crontab.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <date/tz.h>

namespace mode {

/// A malformed cron expression (or one that never fires, from secs_for_next).
/// what() quotes the expression and names the field, e.g.
/// `invalid cron expression "61 * * * *": minute field "61": 61 is out of range 0-59`.
class cron_error : public std::invalid_argument {
 public:
  /// `detail` is appended to `invalid cron expression "<expression>": `.
  cron_error(std::string expression, std::string field, std::string_view detail);

  /// The expression as given to CronSchedule::parse.
  const std::string& expression() const noexcept { return expression_; }

  /// The offending field: "minute", "hour", "day-of-month", "month", "day-of-week", or
  /// empty when the error concerns the whole expression (field count, alias, never fires).
  const std::string& field() const noexcept { return field_; }

 private:
  std::string expression_;
  std::string field_;
};

/// A time zone name that the tz database does not know.
class timezone_error : public std::invalid_argument {
 public:
  timezone_error(std::string name, const std::string& what);

  /// The name as given to want_timezone.
  const std::string& name() const noexcept { return name_; }

 private:
  std::string name_;
};

/// A parsed cron expression (what mode hands to croniter as `cron_format`).
///
/// Five whitespace-separated fields: minute (0-59), hour (0-23), day of month (1-31),
/// month (1-12 or JAN-DEC), day of week (0-7 or SUN-SAT, 0 and 7 are Sunday). Each field
/// is a comma list of `*`, `N`, `A-B`, `*/S`, `A-B/S` or `N/S` (= N-max/S). Names are
/// case-insensitive. When day of month and day of week are both restricted (neither
/// starts with `*`), a day matches if either does (Vixie cron's rule); otherwise both
/// must. Aliases: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly.
class CronSchedule {
 public:
  // -- construction -----------------------------------------------------------

  /// Parses `expr`; throws cron_error naming the field and the input on any mistake.
  /// An expression that can never fire (e.g. "0 0 30 2 *") parses; see fires_ever().
  static CronSchedule parse(std::string_view expr);

  // -- observers --------------------------------------------------------------

  /// The expression exactly as given to parse().
  const std::string& expression() const noexcept { return expression_; }

  /// False when no calendar date satisfies the day-of-month, month and day-of-week
  /// fields (e.g. "0 0 30 2 *", "0 0 31 4,6,9,11 *"). Decided exactly at parse time over
  /// a full 400-year Gregorian cycle. croniter raises CroniterBadDateError instead.
  bool fires_ever() const noexcept { return fires_ever_; }

  /// True when the local wall-clock time `t` (on a whole minute) is one this schedule
  /// names. Ignores time zones: a wall time that a zone skips still "matches".
  bool matches(date::local_seconds t) const noexcept;

  // -- next fire --------------------------------------------------------------

  /// The first instant strictly after `after` at which the schedule fires, reading the
  /// fields as wall-clock time in `tz` (nullptr = UTC, mode's default when no timezone
  /// is given). A wall time that does not exist (spring-forward gap) is skipped; a wall
  /// time that occurs twice (fall-back overlap) fires once, at its first occurrence.
  /// std::nullopt if it never fires (see fires_ever()) or not before the year 10000.
  /// Throws std::out_of_range if `after` is not within the years 1-9999.
  std::optional<std::chrono::sys_seconds> next_fire(std::chrono::sys_seconds after,
                                                    const date::time_zone* tz = nullptr) const;

 private:
  CronSchedule() = default;

  using local_minutes = date::local_time<std::chrono::minutes>;

  bool day_matches(date::year_month_day ymd, date::weekday wd) const noexcept;
  std::optional<local_minutes> next_match(local_minutes from, date::local_days last) const;
  bool compute_fires_ever() const noexcept;

  std::string expression_;
  std::uint64_t minutes_ = 0;  // bit m: minute m (0-59)
  std::uint32_t hours_ = 0;    // bit h: hour h (0-23)
  std::uint32_t days_ = 0;     // bit d: day of month d (1-31)
  std::uint16_t months_ = 0;   // bit m: month m (1-12)
  std::uint8_t weekdays_ = 0;  // bit w: weekday w (0-6, Sunday = 0)
  bool dom_star_ = false;      // day-of-month field starts with '*'
  bool dow_star_ = false;      // day-of-week field starts with '*'
  bool fires_ever_ = false;
};

/// The time zone called `name` from the system tz database (/usr/share/zoneinfo), as
/// mode's `crontab(..., timezone=)` takes a tzinfo. "" and "UTC" give nullptr, which
/// means UTC everywhere in this header (mode's default). Throws timezone_error quoting
/// `name` if the database has no such zone.
const date::time_zone* want_timezone(std::string_view name);

/// mode's `secs_for_next(cron_format, tz)`: seconds from `now` until the schedule next
/// fires strictly after `now` (truncated to whole seconds, as croniter does), in `tz`
/// (nullptr = UTC). Throws cron_error if the schedule never fires.
double secs_for_next(const CronSchedule& schedule, std::chrono::system_clock::time_point now,
                     const date::time_zone* tz = nullptr);

/// secs_for_next for an expression string; throws cron_error if it is malformed.
double secs_for_next(std::string_view cron_format, std::chrono::system_clock::time_point now,
                     const date::time_zone* tz = nullptr);

}  // namespace mode
