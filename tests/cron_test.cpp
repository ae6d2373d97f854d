// CronSchedule: parsing, next_fire in UTC and in zones with DST, secs_for_next, errors.
#include "mode/cron.hpp"

#include <cstdio>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

using namespace std::chrono_literals;
using std::chrono::sys_seconds;

namespace {

// "2026-03-08 01:45:00 -0500" -> the instant; the offset makes the wall time unambiguous.
// (sscanf, not date::parse: g++ 12 warns about date.h's parser under -O2 -Werror.)
sys_seconds at(const std::string& text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, off = 0;
  char sign = '+';
  int n =
      std::sscanf(text.c_str(), "%d-%d-%d %d:%d:%d %c%d", &y, &mo, &d, &h, &mi, &s, &sign, &off);
  REQUIRE_MESSAGE(n == 8, "bad time in test: ", text);
  auto offset = std::chrono::hours{off / 100} + std::chrono::minutes{off % 100};
  auto local = date::sys_days{date::year{y} / mo / d} + std::chrono::hours{h} +
               std::chrono::minutes{mi} + std::chrono::seconds{s};
  return sign == '-' ? local + offset : local - offset;
}

// The instant as wall time in `tz` (nullptr = UTC), e.g. "2026-03-08 03:00:00 EDT".
std::string show(std::optional<sys_seconds> t, const date::time_zone* tz) {
  if (!t)
    return "never";
  if (tz == nullptr)
    return date::format("%F %T %Z", *t);
  return date::format("%F %T %Z", date::make_zoned(tz, *t));
}

std::string next_after(const std::string& expr, const std::string& zone, const std::string& after) {
  auto schedule = mode::CronSchedule::parse(expr);
  auto tz = mode::want_timezone(zone);
  return show(schedule.next_fire(at(after), tz), tz);
}

struct next_case {
  const char* expr;
  const char* zone;  // "" = UTC
  const char* after;
  const char* expected;
};

void check_cases(const std::vector<next_case>& cases) {
  for (const auto& c : cases) {
    INFO("expr: ", c.expr, ", zone: ", c.zone, ", after: ", c.after);
    CHECK(next_after(c.expr, c.zone, c.after) == std::string(c.expected));
  }
}

// Successive fires after `after`, shown in `zone`.
std::vector<std::string> fires(const std::string& expr, const std::string& zone,
                               const std::string& after, int count) {
  auto schedule = mode::CronSchedule::parse(expr);
  auto tz = mode::want_timezone(zone);
  std::vector<std::string> result;
  std::optional<sys_seconds> t = at(after);
  for (int i = 0; i < count && t; ++i) {
    t = schedule.next_fire(*t, tz);
    result.push_back(show(t, tz));
  }
  return result;
}

}  // namespace

TEST_CASE("cron: fields, steps, lists and ranges in UTC" * doctest::timeout(10)) {
  check_cases({
      {"* * * * *", "", "2026-01-01 10:00:00 +0000", "2026-01-01 10:01:00 UTC"},
      {"* * * * *", "", "2026-01-01 10:00:59 +0000", "2026-01-01 10:01:00 UTC"},
      {"*/15 * * * *", "", "2026-01-01 10:07:00 +0000", "2026-01-01 10:15:00 UTC"},
      {"*/15 * * * *", "", "2026-01-01 10:15:00 +0000", "2026-01-01 10:30:00 UTC"},
      {"*/15 * * * *", "", "2026-12-31 23:50:00 +0000", "2027-01-01 00:00:00 UTC"},
      {"1-30/5 * * * *", "", "2026-01-01 10:02:00 +0000", "2026-01-01 10:06:00 UTC"},
      {"1-30/5 * * * *", "", "2026-01-01 10:26:00 +0000", "2026-01-01 11:01:00 UTC"},
      {"5/10 * * * *", "", "2026-01-01 10:06:00 +0000", "2026-01-01 10:15:00 UTC"},
      {"5/10 * * * *", "", "2026-01-01 10:55:00 +0000", "2026-01-01 11:05:00 UTC"},
      {"0 */6 * * *", "", "2026-01-01 13:00:00 +0000", "2026-01-01 18:00:00 UTC"},
      {"0,30 9,17 * * *", "", "2026-01-01 09:30:00 +0000", "2026-01-01 17:00:00 UTC"},
      {"0,30 9,17 * * *", "", "2026-01-01 17:30:00 +0000", "2026-01-02 09:00:00 UTC"},
      {"15 10-12,20 * * *", "", "2026-01-01 12:15:00 +0000", "2026-01-01 20:15:00 UTC"},
      {"0 0 1 */3 *", "", "2026-01-01 00:00:00 +0000", "2026-04-01 00:00:00 UTC"},
      {"  */15\t*  * * *  ", "", "2026-01-01 10:07:00 +0000", "2026-01-01 10:15:00 UTC"},
  });
}

TEST_CASE("cron: month and weekday names, Sunday as 0 and 7" * doctest::timeout(10)) {
  // 2026-01-01 is a Thursday.
  check_cases({
      {"0 12 * JAN,jul *", "", "2026-02-01 00:00:00 +0000", "2026-07-01 12:00:00 UTC"},
      {"0 0 1 feb-Apr *", "", "2026-04-01 00:00:00 +0000", "2027-02-01 00:00:00 UTC"},
      {"0 9 * * MON-FRI", "", "2026-01-02 10:00:00 +0000", "2026-01-05 09:00:00 UTC"},
      {"0 9 * * mon-fri", "", "2026-01-02 10:00:00 +0000", "2026-01-05 09:00:00 UTC"},
      {"0 9 * * Mon-Fri", "", "2026-01-05 08:00:00 +0000", "2026-01-05 09:00:00 UTC"},
      {"0 8 * * 0", "", "2026-01-01 00:00:00 +0000", "2026-01-04 08:00:00 UTC"},
      {"0 8 * * 7", "", "2026-01-01 00:00:00 +0000", "2026-01-04 08:00:00 UTC"},
      {"0 8 * * SUN", "", "2026-01-01 00:00:00 +0000", "2026-01-04 08:00:00 UTC"},
      {"0 8 * * FRI-SUN", "", "2026-01-03 09:00:00 +0000", "2026-01-04 08:00:00 UTC"},
      {"0 8 * * 5-7", "", "2026-01-03 09:00:00 +0000", "2026-01-04 08:00:00 UTC"},
      {"0 8 * * 5-0", "", "2026-01-03 09:00:00 +0000", "2026-01-04 08:00:00 UTC"},
      {"0 8 * * 6,7", "", "2026-01-04 09:00:00 +0000", "2026-01-10 08:00:00 UTC"},
      {"0 8 * * 1/2", "", "2026-01-04 09:00:00 +0000", "2026-01-05 08:00:00 UTC"},
  });
}

TEST_CASE("cron: leap years and month ends" * doctest::timeout(10)) {
  check_cases({
      {"0 0 29 2 *", "", "2025-01-01 00:00:00 +0000", "2028-02-29 00:00:00 UTC"},
      {"0 0 29 2 *", "", "2028-02-29 00:00:00 +0000", "2032-02-29 00:00:00 UTC"},
      {"0 0 29 2 *", "", "2099-03-01 00:00:00 +0000", "2104-02-29 00:00:00 UTC"},
      {"0 0 31 * *", "", "2026-01-31 00:00:00 +0000", "2026-03-31 00:00:00 UTC"},
      {"0 0 31 * *", "", "2026-03-31 00:00:00 +0000", "2026-05-31 00:00:00 UTC"},
      {"0 0 30 * *", "", "2026-01-30 00:00:00 +0000", "2026-03-30 00:00:00 UTC"},
      {"59 23 28-31 2 *", "", "2026-02-28 23:59:00 +0000", "2027-02-28 23:59:00 UTC"},
  });
}

TEST_CASE("cron: day-of-month OR day-of-week when both are restricted" * doctest::timeout(10)) {
  check_cases({
      // Both restricted: the 13th or any Friday.
      {"0 0 13 * FRI", "", "2026-01-01 00:00:00 +0000", "2026-01-02 00:00:00 UTC"},
      {"0 0 13 * FRI", "", "2026-01-09 00:00:00 +0000", "2026-01-13 00:00:00 UTC"},
      // Month still applies: Mondays of February or February 30th.
      {"0 0 30 2 MON", "", "2026-01-01 00:00:00 +0000", "2026-02-02 00:00:00 UTC"},
      // Vixie: a field starting with '*' is unrestricted, so "*/2" ANDs: odd days that
      // are Fridays (January 2026 Fridays: 2, 9, 16, 23, 30).
      {"0 0 */2 * FRI", "", "2026-01-01 00:00:00 +0000", "2026-01-09 00:00:00 UTC"},
      // ... and an explicit full range does not: "0-6" ORs with the 1st, so every day.
      {"0 0 1 * 0-6", "", "2026-01-05 00:00:00 +0000", "2026-01-06 00:00:00 UTC"},
      {"0 0 1 * *", "", "2026-01-05 00:00:00 +0000", "2026-02-01 00:00:00 UTC"},
      // February 29th that is a Sunday ("*/7" = 0,7): 2004, then 2032, 28 years later.
      {"0 0 29 2 */7", "", "2004-03-01 00:00:00 +0000", "2032-02-29 00:00:00 UTC"},
  });
}

TEST_CASE("cron: schedules that never fire" * doctest::timeout(10)) {
  for (const auto* expr : {"0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 30-31 2 */7", "* * 31 2,4 *"}) {
    INFO(expr);
    auto schedule = mode::CronSchedule::parse(expr);
    CHECK_FALSE(schedule.fires_ever());
    CHECK(schedule.next_fire(at("2026-01-01 00:00:00 +0000")) == std::nullopt);
    CHECK(schedule.next_fire(at("2026-01-01 00:00:00 +0000"),
                             mode::want_timezone("Europe/Berlin")) == std::nullopt);
  }
  for (const auto* expr : {"0 0 29 2 *", "0 0 31 * *", "0 0 30 2 MON", "0 0 29 2 */7"}) {
    INFO(expr);
    CHECK(mode::CronSchedule::parse(expr).fires_ever());
  }
}

TEST_CASE("cron: aliases" * doctest::timeout(10)) {
  check_cases({
      {"@hourly", "", "2026-01-01 10:30:00 +0000", "2026-01-01 11:00:00 UTC"},
      {"@daily", "", "2026-01-01 10:30:00 +0000", "2026-01-02 00:00:00 UTC"},
      {"@DAILY", "", "2026-01-01 10:30:00 +0000", "2026-01-02 00:00:00 UTC"},
      {"@midnight", "", "2026-01-01 10:30:00 +0000", "2026-01-02 00:00:00 UTC"},
      {"@weekly", "", "2026-01-01 10:30:00 +0000", "2026-01-04 00:00:00 UTC"},
      {"@monthly", "", "2026-01-01 10:30:00 +0000", "2026-02-01 00:00:00 UTC"},
      {"@yearly", "", "2026-01-01 10:30:00 +0000", "2027-01-01 00:00:00 UTC"},
      {"@annually", "", "2026-01-01 10:30:00 +0000", "2027-01-01 00:00:00 UTC"},
  });
}

TEST_CASE("cron: DST in America/New_York (2026-03-08 and 2026-11-01)" * doctest::timeout(10)) {
  check_cases({
      // Spring forward: 02:00 EST -> 03:00 EDT; 02:30 does not exist that day.
      {"30 2 * * *", "America/New_York", "2026-03-07 03:00:00 -0500", "2026-03-09 02:30:00 EDT"},
      {"*/15 * * * *", "America/New_York", "2026-03-08 01:45:00 -0500", "2026-03-08 03:00:00 EDT"},
      {"0 * * * *", "America/New_York", "2026-03-08 01:00:00 -0500", "2026-03-08 03:00:00 EDT"},
      {"0 3 * * *", "America/New_York", "2026-03-07 03:00:00 -0500", "2026-03-08 03:00:00 EDT"},
      // Fall back: 02:00 EDT -> 01:00 EST; 01:00-01:59 happen twice and fire once.
      {"30 1 * * *", "America/New_York", "2026-11-01 00:00:00 -0400", "2026-11-01 01:30:00 EDT"},
      {"30 1 * * *", "America/New_York", "2026-11-01 01:30:00 -0400", "2026-11-02 01:30:00 EST"},
      // Asked during the second 01:10: the second 01:30 does not fire either.
      {"30 1 * * *", "America/New_York", "2026-11-01 01:10:00 -0500", "2026-11-02 01:30:00 EST"},
      {"*/30 * * * *", "America/New_York", "2026-11-01 01:30:00 -0400", "2026-11-01 02:00:00 EST"},
      {"0 2 * * *", "America/New_York", "2026-11-01 00:00:00 -0400", "2026-11-01 02:00:00 EST"},
      {"0 9 * * *", "America/New_York", "2026-01-05 00:00:00 +0000", "2026-01-05 09:00:00 EST"},
  });
  // Hourly across the gap: 01:00 EST and 03:00 EDT are one real hour apart.
  CHECK(fires("0 * * * *", "America/New_York", "2026-03-07 23:30:00 -0500", 4) ==
        std::vector<std::string>{"2026-03-08 00:00:00 EST", "2026-03-08 01:00:00 EST",
                                 "2026-03-08 03:00:00 EDT", "2026-03-08 04:00:00 EDT"});
  // Every 15 minutes across the overlap: the second pass through 01:xx stays silent.
  CHECK(fires("*/15 * * * *", "America/New_York", "2026-11-01 01:00:00 -0400", 7) ==
        std::vector<std::string>{"2026-11-01 01:15:00 EDT", "2026-11-01 01:30:00 EDT",
                                 "2026-11-01 01:45:00 EDT", "2026-11-01 02:00:00 EST",
                                 "2026-11-01 02:15:00 EST", "2026-11-01 02:30:00 EST",
                                 "2026-11-01 02:45:00 EST"});
  auto ny = mode::want_timezone("America/New_York");
  auto schedule = mode::CronSchedule::parse("*/15 * * * *");
  auto last_edt = schedule.next_fire(at("2026-11-01 01:30:00 -0400"), ny);
  REQUIRE(last_edt);
  auto first_est = schedule.next_fire(*last_edt, ny);
  REQUIRE(first_est);
  CHECK(*first_est - *last_edt == 75min);
}

TEST_CASE("cron: DST in Europe/Berlin (2026-03-29 and 2026-10-25)" * doctest::timeout(10)) {
  check_cases({
      // Spring forward: 02:00 CET -> 03:00 CEST.
      {"30 2 * * *", "Europe/Berlin", "2026-03-28 12:00:00 +0100", "2026-03-30 02:30:00 CEST"},
      {"0 2 * * SUN", "Europe/Berlin", "2026-03-28 12:00:00 +0100", "2026-04-05 02:00:00 CEST"},
      // A day containing the jump is not skipped (cronie#218 adds 86400 s and lands late).
      {"0 12 * * 0", "Europe/Berlin", "2026-03-26 12:00:00 +0100", "2026-03-29 12:00:00 CEST"},
      {"0 0 * * *", "Europe/Berlin", "2026-03-28 00:00:00 +0100", "2026-03-29 00:00:00 CET"},
      {"0 0 * * *", "Europe/Berlin", "2026-03-29 00:00:00 +0100", "2026-03-30 00:00:00 CEST"},
      // Fall back: 03:00 CEST -> 02:00 CET; 02:30 fires once, at its first occurrence.
      {"30 2 * * *", "Europe/Berlin", "2026-10-24 12:00:00 +0200", "2026-10-25 02:30:00 CEST"},
      {"30 2 * * *", "Europe/Berlin", "2026-10-25 02:30:00 +0200", "2026-10-26 02:30:00 CET"},
      {"30 2 * * *", "Europe/Berlin", "2026-10-25 02:00:00 +0100", "2026-10-26 02:30:00 CET"},
  });
  auto berlin = mode::want_timezone("Europe/Berlin");
  auto daily = mode::CronSchedule::parse("0 0 * * *");
  auto before = daily.next_fire(at("2026-03-28 12:00:00 +0100"), berlin);
  REQUIRE(before);
  auto after = daily.next_fire(*before, berlin);
  REQUIRE(after);
  CHECK(*after - *before == 23h);
}

TEST_CASE("cron: no time zone means UTC" * doctest::timeout(10)) {
  auto schedule = mode::CronSchedule::parse("0 9 * * *");
  auto t = at("2026-01-05 00:00:00 +0000");
  auto expected = at("2026-01-05 09:00:00 +0000");
  CHECK(schedule.next_fire(t) == expected);
  CHECK(schedule.next_fire(t, nullptr) == expected);
  CHECK(schedule.next_fire(t, mode::want_timezone("UTC")) == expected);
  CHECK(schedule.next_fire(t, mode::want_timezone("")) == expected);
  CHECK(schedule.next_fire(t, mode::want_timezone("Etc/UTC")) == expected);
  // A zone really changes the answer.
  CHECK(schedule.next_fire(t, mode::want_timezone("Asia/Kolkata")) ==
        at("2026-01-05 09:00:00 +0530"));
}

TEST_CASE("cron: secs_for_next" * doctest::timeout(10)) {
  using std::chrono::system_clock;
  auto quarter = mode::CronSchedule::parse("*/15 * * * *");
  system_clock::time_point now = at("2026-01-01 10:07:30 +0000") + 250ms;
  CHECK(mode::secs_for_next(quarter, now) == doctest::Approx(449.75));
  CHECK(mode::secs_for_next(quarter, at("2026-01-01 10:15:00 +0000")) == doctest::Approx(900));
  CHECK(mode::secs_for_next("* * * * *", at("2026-01-01 10:00:59 +0000") + 500ms) ==
        doctest::Approx(0.5));
  CHECK(mode::secs_for_next("0 9 * * *", at("2026-01-05 13:00:00 +0000"),
                            mode::want_timezone("America/New_York")) == doctest::Approx(3600));
  CHECK_THROWS_WITH_AS(mode::secs_for_next("0 0 30 2 *", now),
                       doctest::Contains("\"0 0 30 2 *\": it never fires"), mode::cron_error);
  CHECK_THROWS_AS(mode::secs_for_next("0 0 30 2", now), mode::cron_error);
}

TEST_CASE("cron: observers" * doctest::timeout(10)) {
  auto schedule = mode::CronSchedule::parse(" 30 9 * * MON ");
  CHECK(schedule.expression() == " 30 9 * * MON ");
  CHECK(schedule.fires_ever());
  auto monday = date::local_days{date::year{2026} / 1 / 5};
  CHECK(schedule.matches(monday + 9h + 30min));
  CHECK_FALSE(schedule.matches(monday + 9h + 30min + 1s));
  CHECK_FALSE(schedule.matches(monday + 9h + 31min));
  CHECK_FALSE(schedule.matches(monday + date::days{1} + 9h + 30min));
  // A copy is an independent value.
  auto copy = schedule;
  schedule = mode::CronSchedule::parse("@hourly");
  CHECK(copy.expression() == " 30 9 * * MON ");
  CHECK(copy.next_fire(at("2026-01-05 09:00:00 +0000")) == at("2026-01-05 09:30:00 +0000"));
}

TEST_CASE("cron: next_fire at the ends of the calendar" * doctest::timeout(10)) {
  auto yearly = mode::CronSchedule::parse("0 0 1 1 *");
  CHECK(yearly.next_fire(at("9999-06-01 00:00:00 +0000")) == std::nullopt);
  CHECK(yearly.next_fire(at("9998-06-01 00:00:00 +0000")) == at("9999-01-01 00:00:00 +0000"));
  CHECK_THROWS_AS(yearly.next_fire(sys_seconds::max()), std::out_of_range);
  CHECK_THROWS_AS(yearly.next_fire(sys_seconds::min()), std::out_of_range);
}

TEST_CASE("cron: malformed expressions name the field and the input" * doctest::timeout(10)) {
  struct bad_case {
    const char* expr;
    const char* field;
    const char* detail;
  };
  std::vector<bad_case> cases{
      {"61 * * * *", "minute", "61 is out of range 0-59"},
      {"* 24 * * *", "hour", "24 is out of range 0-23"},
      {"* * 0 * *", "day-of-month", "0 is out of range 1-31"},
      {"* * 32 * *", "day-of-month", "32 is out of range 1-31"},
      {"* * * 0 *", "month", "0 is out of range 1-12"},
      {"* * * 13 *", "month", "13 is out of range 1-12"},
      {"* * * * 8", "day-of-week", "8 is out of range 0-7"},
      {"1,99999999999999999999 * * * *", "minute", "99999999999999999999 is out of range 0-59"},
      {"*/0 * * * *", "minute", "step 0 in \"*/0\" must be at least 1"},
      {"* 1-10/0 * * *", "hour", "step 0 in \"1-10/0\" must be at least 1"},
      {"* * * */0 *", "month", "step 0"},
      {"*/61 * * * *", "minute", "step 61 in \"*/61\" is out of range 1-60"},
      {"*/x * * * *", "minute", "step \"x\" in \"*/x\" is not a number"},
      {"*/ * * * *", "minute", "\"*/\" has no step after '/'"},
      {"*/2/3 * * * *", "minute", "step \"2/3\" in \"*/2/3\" is not a number"},
      {"5-1 * * * *", "minute", "range \"5-1\" is reversed (5 > 1)"},
      {"* * 20-10 * *", "day-of-month", "range \"20-10\" is reversed (20 > 10)"},
      {"* * * DEC-JAN *", "month", "range \"DEC-JAN\" is reversed (12 > 1)"},
      {"* * * * FRI-MON", "day-of-week", "range \"FRI-MON\" is reversed (5 > 1)"},
      {"x * * * *", "minute", "\"x\" is not a number"},
      {"* JAN * * *", "hour", "\"JAN\" is not a number"},
      {"* * * FOO *", "month", "\"FOO\" is neither a number nor a name (JAN-DEC)"},
      {"* * * * MONDAY", "day-of-week", "\"MONDAY\" is neither a number nor a name (SUN-SAT)"},
      {"* * L * *", "day-of-month", "\"L\" is not a number"},
      {"* * * * 5#3", "day-of-week", "\"5#3\" is neither a number nor a name"},
      {"* * ? * *", "day-of-month", "\"?\" is not a number"},
      {"1,,2 * * * *", "minute", "empty list element"},
      {"1, * * * *", "minute", "empty list element"},
      {"1-2-3 * * * *", "minute", "\"1-2-3\" has more than one '-'"},
      {"-1 * * * *", "minute", "\"-1\" is missing a value"},
      {"1- * * * *", "minute", "\"1-\" is missing a value"},
      {"** * * * *", "minute", "\"**\" is not a number"},
      {"+5 * * * *", "minute", "\"+5\" is not a number"},
      {"* * * *", "", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"},
      {"* * * * * *", "", "expected 5 fields (minute hour day-of-month month day-of-week), got 6"},
      {"", "", "it is empty"},
      {"   ", "", "it is empty"},
      {"@reboot", "", "unknown alias \"@reboot\""},
      {"@daily 5", "", "unknown alias \"@daily 5\""},
  };
  for (const auto& c : cases) {
    INFO("expr: \"", c.expr, "\"");
    try {
      mode::CronSchedule::parse(c.expr);
      FAIL("no exception");
    } catch (const mode::cron_error& e) {
      std::string what = e.what();
      INFO("what(): ", what);
      CHECK(e.expression() == c.expr);
      CHECK(e.field() == c.field);
      auto quoted = "invalid cron expression \"" + std::string(c.expr) + "\": ";
      CHECK(what.rfind(quoted, 0) == 0);
      if (*c.field != '\0')
        CHECK(what.find(std::string(c.field) + " field \"") != std::string::npos);
      CHECK(what.find(c.detail) != std::string::npos);
    }
  }
  // The whole message, once.
  CHECK_THROWS_WITH_AS(
      mode::CronSchedule::parse("61 * * * *"),
      "invalid cron expression \"61 * * * *\": minute field \"61\": 61 is out of range 0-59",
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(mode::CronSchedule::parse("0 0 1,2-40 * *"),
                       "invalid cron expression \"0 0 1,2-40 * *\": day-of-month field "
                       "\"1,2-40\": 40 is out of range 1-31",
                       mode::cron_error);
  // Control characters are escaped in the message, not printed raw.
  CHECK_THROWS_WITH_AS(mode::CronSchedule::parse("*\x01 * * * *"),
                       doctest::Contains("\"*\\x01 * * * *\""), mode::cron_error);
}

TEST_CASE("cron: time zones by name" * doctest::timeout(10)) {
  CHECK(mode::want_timezone("") == nullptr);
  CHECK(mode::want_timezone("UTC") == nullptr);
  auto ny = mode::want_timezone("America/New_York");
  REQUIRE(ny != nullptr);
  CHECK(ny->name() == "America/New_York");
  for (const auto* name : {"Mars/Olympus", "America/New_York ", "new york"}) {
    INFO(name);
    try {
      mode::want_timezone(name);
      FAIL("no exception");
    } catch (const mode::timezone_error& e) {
      CHECK(e.name() == name);
      CHECK(std::string(e.what()).find("unknown time zone \"" + std::string(name) + "\"") !=
            std::string::npos);
    }
  }
  CHECK_THROWS_AS(mode::want_timezone("Mars/Olympus"), std::invalid_argument);
}
