// Randomized CronSchedule test: random strings and mutations of valid expressions never
// crash or hang, rejected ones get a cron_error quoting them, accepted ones give a
// next_fire that is exactly the first fire (checked against a brute-force oracle), and
// the ones reported as never firing are exactly the impossible day/month combinations.
// Seeded and bounded by iteration counts, so every run does the same work.
#include "mode/cron.hpp"

#include <array>
#include <bitset>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

using namespace std::chrono_literals;
using std::chrono::sys_seconds;

namespace {

using local_minutes = date::local_time<std::chrono::minutes>;

constexpr std::uint64_t seed = 20261124;

// Predicates on local wall time that next_fire's answers are checked against.
struct oracle {
  std::function<bool(date::local_days)> day;  // some minute of this day matches
  std::function<bool(int)> time;              // this minute of a matching day matches
};

// Failures are reported one by one but the run stops after a few, to keep logs readable.
struct reporter {
  int failures = 0;
  // `what` makes the message, only on failure.
  template <class F>
  bool ok(bool condition, F&& what) {
    if (!condition && failures++ < 10)
      FAIL_CHECK(what());
    return condition;
  }
};

// The expression in double quotes as cron_error shows it: quotes, backslashes and
// non-printable bytes escaped.
std::string quoted(std::string_view text) {
  std::string result = "\"";
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\')
      result += std::string{'\\', c};
    else if (c == '\t')
      result += "\\t";
    else if (c == '\n')
      result += "\\n";
    else if (byte < 0x20 || byte >= 0x7f)
      result += fmt::format("\\x{:02x}", byte);
    else
      result += c;
  }
  return result + '"';
}

std::string show(sys_seconds t) {
  return date::format("%F %T UTC", t);
}

bool oracle_fires_ever(const oracle& o) {
  // 2000-2027 holds every (month, day, weekday) combination there is: Feb 29 falls on
  // each weekday once (2000 is a leap year, no century rule in between), other dates
  // more often. A day pattern that matches nowhere in it matches nowhere at all.
  auto first = date::local_days{date::year{2000} / 1 / 1};
  for (auto d = first; d < date::local_days{date::year{2028} / 1 / 1}; d += date::days{1})
    if (o.day(d))
      return true;
  return false;
}

// Checks next_fire(start, tz) against the oracle: it is a fire time, the first one after
// `start`, and missing only when nothing ever matches.
void check_next(const mode::CronSchedule& s, const oracle& o, sys_seconds start,
                const date::time_zone* tz, reporter& r) {
  auto label = [&] {
    return fmt::format("{} tz={} start={}", quoted(s.expression()), tz ? tz->name() : "UTC",
                       show(start));
  };
  auto to_local = [&](sys_seconds t) {
    return tz ? tz->to_local(t) : date::local_seconds{t.time_since_epoch()};
  };
  // The instant a local wall-clock minute fires at, if it exists.
  auto fire_of = [&](local_minutes l) -> std::optional<sys_seconds> {
    if (tz == nullptr)
      return sys_seconds{l.time_since_epoch()};
    auto info = tz->get_info(l);
    if (info.result == date::local_info::nonexistent)
      return std::nullopt;
    return sys_seconds{(l - info.first.offset).time_since_epoch()};
  };
  auto next = s.next_fire(start, tz);
  if (!next) {
    r.ok(!s.fires_ever() && !oracle_fires_ever(o),
         [&] { return "no next fire but it fires: " + label(); });
    return;
  }
  if (!r.ok(s.fires_ever(), [&] { return "fires though fires_ever() is false: " + label(); }))
    return;
  auto local = to_local(*next);
  auto local_minute = std::chrono::floor<std::chrono::minutes>(local);
  r.ok(*next > start, [&] { return "next_fire not after start: " + label(); });
  auto local_day = std::chrono::floor<date::days>(local_minute);
  r.ok(local == local_minute && o.day(local_day) &&
           o.time(static_cast<int>((local_minute - local_day).count())),
       [&] { return "next_fire " + show(*next) + " does not match: " + label(); });
  r.ok(fire_of(local_minute) == next,
       [&] { return "next_fire " + show(*next) + " is not a first occurrence: " + label(); });
  r.ok(s.next_fire(*next - 1s, tz) == next,
       [&] { return "next_fire(next - 1 s) differs: " + label(); });
  // Nothing fires in (start, next): every matching minute of every matching local day in
  // between either does not exist or fires outside. A day before the start's local day
  // is included for zones whose overlap crosses midnight.
  auto first_day = std::chrono::floor<date::days>(to_local(start)) - date::days{1};
  std::vector<int> times;
  for (int m = 0; m < 24 * 60; ++m)
    if (o.time(m))
      times.push_back(m);
  for (auto d = first_day; d <= local_day; d += date::days{1}) {
    if (!o.day(d))
      continue;
    for (int m : times) {
      auto l = local_minutes{d.time_since_epoch()} + std::chrono::minutes{m};
      auto fire = fire_of(l);
      if (fire && *fire > start && *fire < *next) {
        r.ok(false, [&] {
          return "missed an earlier fire at " + show(*fire) + " before " + show(*next) + ": " +
                 label();
        });
        return;
      }
    }
  }
}

// An oracle from the schedule itself for expressions we did not generate: the day part
// asks a copy with "0 0" for minute and hour whether midnight matches. Only next_fire's
// search is under test then, not the field parser (the structured cases test that).
oracle self_oracle(const mode::CronSchedule& s) {
  static const std::array<std::pair<std::string_view, std::string_view>, 7> aliases = {{
      {"@yearly", "0 0 1 1 *"},
      {"@annually", "0 0 1 1 *"},
      {"@monthly", "0 0 1 * *"},
      {"@weekly", "0 0 * * 0"},
      {"@daily", "0 0 * * *"},
      {"@midnight", "0 0 * * *"},
      {"@hourly", "0 * * * *"},
  }};
  std::string text = s.expression();
  std::vector<std::string> columns;
  std::string column;
  for (char c : text + " ") {
    if (std::string_view{" \t\n\r\f\v"}.find(c) != std::string_view::npos) {
      if (!column.empty())
        columns.push_back(std::move(column));
      column.clear();
    } else {
      column += c;
    }
  }
  if (columns.size() == 1) {
    std::string lower;
    for (char c : columns[0])
      lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    for (const auto& [alias, expansion] : aliases)
      if (alias == lower)
        return self_oracle(mode::CronSchedule::parse(expansion));
  }
  REQUIRE(columns.size() == 5);
  auto days = mode::CronSchedule::parse("0 0 " + columns[2] + " " + columns[3] + " " + columns[4]);
  auto times = mode::CronSchedule::parse(columns[0] + " " + columns[1] + " * * *");
  return {[days](date::local_days d) { return days.matches(date::local_seconds{d}); },
          [times](int m) {
            return times.matches(date::local_seconds{date::local_days{}} + std::chrono::minutes{m});
          }};
}

// -- structured expressions with an independent oracle --------------------------

struct generated {
  std::string text;
  std::array<std::bitset<64>, 5> sets;  // minute, hour, dom, month, dow (0-6)
  bool dom_star = false;
  bool dow_star = false;

  bool day(date::local_days d) const {
    date::year_month_day ymd{d};
    if (!sets[3][unsigned{ymd.month()}])
      return false;
    bool dom = sets[2][unsigned{ymd.day()}];
    bool dow = sets[4][date::weekday{d}.c_encoding()];
    return dom_star || dow_star ? dom && dow : dom || dow;
  }

  bool time(int m) const {
    return sets[1][static_cast<std::size_t>(m / 60)] && sets[0][static_cast<std::size_t>(m % 60)];
  }

  bool minute(local_minutes l) const {
    auto d = std::chrono::floor<date::days>(l);
    return day(d) && time(static_cast<int>((l - d).count()));
  }

  // Never fires exactly when day and weekday must both match and no real date is named:
  // every month has every weekday, and every real date falls on every weekday in time.
  bool fires_ever() const {
    if (!dom_star && !dow_star)
      return true;
    constexpr std::array<int, 13> longest = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (int m = 1; m <= 12; ++m)
      for (int d = 1; d <= longest[static_cast<std::size_t>(m)]; ++d)
        if (sets[3][static_cast<std::size_t>(m)] && sets[2][static_cast<std::size_t>(d)])
          return true;
    return false;
  }
};

class generator {
 public:
  explicit generator(std::mt19937_64& rng) : rng_(rng) {}

  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>{lo, hi}(rng_); }

  bool chance(int percent) { return uniform(1, 100) <= percent; }

  // A valid expression; `busy` favours frequent schedules (for DST checks).
  generated expression(bool busy) {
    static constexpr std::array<std::array<int, 2>, 5> ranges = {
        {{0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, 7}}};
    generated g;
    for (std::size_t f = 0; f < 5; ++f) {
      bool star = (busy && f >= 1) ? chance(70) : chance(25);
      std::string text;
      std::bitset<64> set;
      int elements = star ? 1 : uniform(1, 3);
      for (int e = 0; e < elements; ++e) {
        if (e > 0)
          text += ',';
        text += element(f, ranges[f][0], ranges[f][1], star && e == 0, set);
      }
      if (f == 4) {
        if (set[7])
          set[0] = true;
        set[7] = false;
      }
      g.sets[f] = set;
      if (f == 2)
        g.dom_star = text.front() == '*';
      if (f == 4)
        g.dow_star = text.front() == '*';
      g.text += (f == 0 ? "" : " ") + text;
    }
    return g;
  }

 private:
  // A value for field f, biased to the interesting ends (28-31, February, Sunday).
  int value(std::size_t f, int lo, int hi) {
    if (f == 2 && chance(50))
      return uniform(28, 31);
    if (f == 3 && chance(40))
      return std::array<int, 5>{2, 4, 6, 9, 11}[static_cast<std::size_t>(uniform(0, 4))];
    return uniform(lo, hi);
  }

  // Sunday as 7 is written as a name only alone: "SUN" reads as 0, which differs from 7
  // as a range start or end ("0-SUN" is 0-0, "SUN/2" is 0-7/2).
  std::string name_or_number(std::size_t f, int v, bool alone = false) {
    static constexpr std::array<std::string_view, 12> months = {
        "jan", "FEB", "Mar", "apr", "MAY", "jun", "Jul", "aug", "SEP", "oct", "Nov", "DEC"};
    static constexpr std::array<std::string_view, 8> weekdays = {"sun", "MON", "Tue", "wed",
                                                                 "THU", "fri", "Sat", "SUN"};
    if (f == 3 && chance(30))
      return std::string(months[static_cast<std::size_t>(v - 1)]);
    if (f == 4 && (v != 7 || alone) && chance(30))
      return std::string(weekdays[static_cast<std::size_t>(v)]);
    return std::to_string(v);
  }

  std::string element(std::size_t f, int lo, int hi, bool star, std::bitset<64>& set) {
    int width = hi - lo + 1;
    int step = chance(40) ? uniform(1, width) : 1;
    std::string suffix = step > 1 || chance(10) ? fmt::format("/{}", step) : "";
    auto add = [&](int a, int b) {
      for (int v = a; v <= b; v += step)
        set[static_cast<std::size_t>(v)] = true;
    };
    if (star) {
      add(lo, hi);
      return "*" + suffix;
    }
    switch (uniform(0, 2)) {
      case 0: {  // N or N/S (= N-max/S)
        int v = value(f, lo, hi);
        add(v, suffix.empty() ? v : hi);
        return name_or_number(f, v) + suffix;
      }
      case 1: {  // A-B or A-B/S
        int a = value(f, lo, hi);
        int b = value(f, lo, hi);
        if (a > b)
          std::swap(a, b);
        add(a, b);
        return name_or_number(f, a) + "-" + name_or_number(f, b) + suffix;
      }
      default: {  // a list of plain values
        int v = value(f, lo, hi);
        set[static_cast<std::size_t>(v)] = true;
        return name_or_number(f, v, true);
      }
    }
  }

  std::mt19937_64& rng_;
};

// -- unstructured inputs ---------------------------------------------------------

constexpr std::string_view alphabet = "0123456789012345*/-,*/-,     \t@#?LWjanfebmarsunmonFRI";

const std::vector<std::string> seeds = {
    "* * * * *",        "*/15 * * * *",      "1-30/5 2,4 * * *", "5/10 * * * *", "0 9 * * MON-FRI",
    "0 12 1 JAN,jul *", "0 8 * * 0",         "0 8 * * 7",        "0 0 29 2 *",   "0 0 31 * *",
    "0 0 13 * FRI",     "0 0 */2 * FRI",     "0 0 30 2 *",       "@daily",       "@weekly",
    "59 23 28-31 2 *",  "0 0 31 4,6,9,11 *", "0 0 1 * 0-6",      "30 2 * 3 SUN", "0 0 29 2 */7",
};

std::string random_string(generator& g) {
  std::string s;
  int length = g.uniform(0, 30);
  for (int i = 0; i < length; ++i)
    s += g.chance(5) ? static_cast<char>(g.uniform(0, 255))
                     : alphabet[static_cast<std::size_t>(
                           g.uniform(0, static_cast<int>(alphabet.size()) - 1))];
  return s;
}

// Five random fields of near-valid elements: mostly in range for their field, some
// just outside it, some steps of 0, some names and junk words.
std::string random_tokens(generator& g) {
  static constexpr std::array<std::array<int, 2>, 5> ranges = {
      {{0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, 7}}};
  static constexpr std::array<std::string_view, 8> words = {"*",   "jan", "DEC",    "sun",
                                                            "Sat", "L",   "monday", ""};
  std::string s;
  int fields = g.chance(95) ? 5 : g.uniform(0, 7);
  for (int f = 0; f < fields; ++f) {
    auto [lo, hi] = ranges[static_cast<std::size_t>(std::min(f, 4))];
    auto number = [&] {
      return std::to_string(g.chance(95) ? g.uniform(lo, hi) : g.uniform(lo - 1, hi + 1));
    };
    auto step = [&] {
      return std::to_string(g.chance(95) ? g.uniform(1, hi - lo + 1) : 0);
    };
    if (f > 0)
      s += ' ';
    int elements = g.uniform(1, 3);
    for (int e = 0; e < elements; ++e) {
      if (e > 0)
        s += ',';
      switch (g.uniform(0, 5)) {
        case 0:
          s += g.chance(50) ? std::string("*")
                            : std::string(words[static_cast<std::size_t>(g.uniform(0, 7))]);
          break;
        case 1:
          s += number();
          break;
        case 2:
          s += number() + "-" + number();
          break;
        case 3:
          s += "*/" + step();
          break;
        case 4:
          s += number() + "/" + step();
          break;
        default:
          s += number() + "-" + number() + "/" + step();
          break;
      }
    }
  }
  return s;
}

std::string mutate(generator& g, std::string s) {
  int edits = g.uniform(1, 3);
  for (int i = 0; i < edits; ++i) {
    auto pos = static_cast<std::size_t>(g.uniform(0, static_cast<int>(s.size())));
    auto random_char = [&] {
      return alphabet[static_cast<std::size_t>(
          g.uniform(0, static_cast<int>(alphabet.size()) - 1))];
    };
    switch (g.uniform(0, 4)) {
      case 0:
        s.insert(pos, 1, random_char());
        break;
      case 1:
        if (pos < s.size())
          s.erase(pos, 1);
        break;
      case 2:
        if (pos < s.size())
          s[pos] = random_char();
        break;
      case 3:
        s.insert(pos, std::to_string(g.uniform(0, 99)));
        break;
      default:
        if (pos < s.size())
          s.insert(pos, s.substr(pos, static_cast<std::size_t>(g.uniform(1, 4))));
        break;
    }
  }
  return s;
}

sys_seconds random_start(generator& g) {
  auto first = date::sys_days{date::year{1971} / 1 / 1};
  auto days = (date::sys_days{date::year{2100} / 1 / 1} - first).count();
  return first + date::days{g.uniform(0, days - 1)} + std::chrono::seconds{g.uniform(0, 86399)};
}

struct tally {
  int rejected = 0;
  int accepted = 0;
  int never = 0;
};

// Parses `text`; a rejection must be a cron_error quoting it, an acceptance must pass
// check_next from a random start.
void try_input(const std::string& text, generator& g, reporter& r, tally& t) {
  std::optional<mode::CronSchedule> s;
  try {
    s = mode::CronSchedule::parse(text);
  } catch (const mode::cron_error& e) {
    ++t.rejected;
    auto prefix = "invalid cron expression " + quoted(text) + ": ";
    r.ok(std::string_view{e.what()}.substr(0, prefix.size()) == prefix,
         [&] { return "message " + quoted(e.what()) + " does not quote " + quoted(text); });
    r.ok(e.expression() == text, [&] { return "expression() differs for " + quoted(text); });
    return;
  }
  ++t.accepted;
  if (!s->fires_ever())
    ++t.never;
  check_next(*s, self_oracle(*s), random_start(g), nullptr, r);
}

}  // namespace

TEST_CASE("cron fuzz: random strings and mutations never crash and answer consistently" *
          doctest::timeout(60)) {
  std::mt19937_64 rng{seed};
  generator g{rng};
  reporter r;
  std::array<tally, 3> t;
  for (int i = 0; i < 10000 && r.failures == 0; ++i)
    try_input(random_string(g), g, r, t[0]);
  for (int i = 0; i < 10000 && r.failures == 0; ++i)
    try_input(random_tokens(g), g, r, t[1]);
  for (int i = 0; i < 10000 && r.failures == 0; ++i)
    try_input(
        mutate(g,
               seeds[static_cast<std::size_t>(g.uniform(0, static_cast<int>(seeds.size()) - 1))]),
        g, r, t[2]);
  // Not vacuous: random bytes are rejected, near-valid fields and mutations of valid
  // expressions give both outcomes, and some accepted ones never fire.
  std::string counts;
  for (const auto& [rejected, accepted, never] : t)
    counts +=
        fmt::format("[rejected {}, accepted {}, never firing {}] ", rejected, accepted, never);
  INFO(counts);
  CHECK(t[0].rejected > 9000);
  CHECK(t[1].rejected > 1000);
  CHECK(t[1].accepted > 500);
  CHECK(t[2].rejected > 1000);
  CHECK(t[2].accepted > 500);
  CHECK(t[2].never > 10);
}

TEST_CASE("cron fuzz: generated expressions match an independent oracle" * doctest::timeout(60)) {
  std::mt19937_64 rng{seed + 1};
  generator g{rng};
  reporter r;
  int never = 0;
  int long_waits = 0;  // fires more than 4 years later (Feb 29 on a given weekday)
  for (int i = 0; i < 6000 && r.failures == 0; ++i) {
    auto expected = g.expression(false);
    auto s = mode::CronSchedule::parse(expected.text);
    INFO(expected.text);
    oracle o{[&](date::local_days d) { return expected.day(d); },
             [&](int m) {
               return expected.time(m);
             }};
    // The parser agrees with the oracle at random minutes ...
    for (int k = 0; k < 20; ++k) {
      auto l = date::local_seconds{random_start(g).time_since_epoch()};
      auto m = std::chrono::floor<std::chrono::minutes>(l);
      r.ok(s.matches(date::local_seconds{m}) == expected.minute(m), [&] {
        return fmt::format("matches() disagrees for {} at {}", quoted(expected.text),
                           date::format("%F %R", m));
      });
    }
    // ... never-firing ones are exactly the impossible day/month combinations ...
    r.ok(s.fires_ever() == expected.fires_ever(), [&] {
      return fmt::format("fires_ever() is {} for {}", s.fires_ever(), quoted(expected.text));
    });
    never += s.fires_ever() ? 0 : 1;
    // ... and next_fire finds the first fire.
    auto start = random_start(g);
    check_next(s, o, start, nullptr, r);
    if (auto next = s.next_fire(start); next && *next - start > date::years{4})
      ++long_waits;
  }
  INFO("never firing ", never, ", waits over 4 years ", long_waits);
  CHECK(never > 5);
  CHECK(long_waits > 0);
}

TEST_CASE("cron fuzz: next_fire around DST transitions" * doctest::timeout(60)) {
  std::mt19937_64 rng{seed + 2};
  generator g{rng};
  reporter r;
  // Lord Howe shifts by 30 minutes; Sao Paulo (until 2019) and Havana jump at midnight,
  // so whole local midnights are skipped or repeated; Apia skipped 2011-12-30 entirely.
  std::vector<const date::time_zone*> zones;
  for (const auto* name : {"America/New_York", "Europe/Berlin", "Australia/Lord_Howe",
                           "America/Sao_Paulo", "America/Havana", "Pacific/Apia", "Asia/Kolkata"})
    zones.push_back(mode::want_timezone(name));
  for (int i = 0; i < 1500 && r.failures == 0; ++i) {
    auto tz = zones[static_cast<std::size_t>(g.uniform(0, static_cast<int>(zones.size()) - 1))];
    // A start within a day and a half of the zone's next offset change after a random
    // instant in 2005-2036.
    auto probe = date::sys_days{date::year{g.uniform(2005, 2036)} / 1 / 1} +
                 std::chrono::hours{g.uniform(0, 365 * 24)};
    auto change = tz->get_info(probe).end;
    auto start = std::min(change, sys_seconds{date::sys_days{date::year{2037} / 1 / 1}}) +
                 std::chrono::seconds{g.uniform(-36 * 3600, 36 * 3600)};
    auto expected = g.expression(true);
    INFO(expected.text, " in ", tz->name());
    auto s = mode::CronSchedule::parse(expected.text);
    oracle o{[&](date::local_days d) { return expected.day(d); },
             [&](int m) {
               return expected.time(m);
             }};
    check_next(s, o, start, tz, r);
  }
}
