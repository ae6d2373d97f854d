// Service::crontab on virtual time: fires at the right wall times, error policies,
// and registration errors.
#include <doctest/doctest.h>

#include <date/date.h>

#include "mode/cron.hpp"
#include "mode/service.hpp"
#include "mode/service_handle.hpp"
#include "test_support.hpp"

using namespace std::chrono_literals;
using mode::ServiceState;
using mode::task;
using mode::testing::virtual_time_fixture;

namespace {

using sys_clock = std::chrono::system_clock;

/// A wall clock that moves with the actor system's virtual clock.
std::function<sys_clock::time_point()> virtual_wall_clock(caf::actor_system& sys,
                                                          sys_clock::time_point start) {
  auto steady_start = sys.clock().now();
  return [&sys, start, steady_start] {
    return start +
           std::chrono::duration_cast<sys_clock::duration>(sys.clock().now() - steady_start);
  };
}

class Cron : public mode::Service {
 public:
  Cron(std::string expr, mode::CrontabSpec spec, bool fail = false) : fail_(fail) {
    crontab(expr, &Cron::job, std::move(spec));
  }
  task<void> job() {
    fired.push_back(wall_clock());
    if (fail_)
      throw std::runtime_error("job failed");
    co_return;
  }
  std::vector<sys_clock::time_point> fired;

 private:
  bool fail_;
};

sys_clock::time_point utc(int y, unsigned mo, unsigned d, int h, int mi, int s = 0) {
  using namespace date;
  return sys_days{year{y} / month{mo} / day{d}} + std::chrono::hours{h} + std::chrono::minutes{mi} +
         std::chrono::seconds{s};
}

}  // namespace

TEST_CASE(
    "mode: unit/test_services.py::test_crontab: a crontab fires at each matching wall time while "
    "the service runs" *
    doctest::timeout(60)) {
  virtual_time_fixture fx;
  auto svc = std::make_shared<Cron>("*/15 * * * *", mode::CrontabSpec{});
  svc->wall_clock = virtual_wall_clock(fx.sys, utc(2026, 3, 2, 10, 7, 30));
  mode::ServiceHandle h{fx.sys, svc};
  h.send_start();
  fx.advance(1h);
  REQUIRE(svc->fired.size() == 4);
  CHECK(std::chrono::floor<std::chrono::seconds>(svc->fired[0]) == utc(2026, 3, 2, 10, 15));
  CHECK(std::chrono::floor<std::chrono::seconds>(svc->fired[3]) == utc(2026, 3, 2, 11, 0));
  h.send_stop();
  fx.advance(1h);
  CHECK(svc->fired.size() == 4);
  CHECK(svc->state() == ServiceState::shutdown);
}

TEST_CASE("a crontab reads its expression in the given time zone" * doctest::timeout(60)) {
  virtual_time_fixture fx;
  // 09:00 in Berlin is 08:00 UTC in winter.
  auto svc = std::make_shared<Cron>("0 9 * * *", mode::CrontabSpec{.timezone = "Europe/Berlin"});
  svc->wall_clock = virtual_wall_clock(fx.sys, utc(2026, 1, 5, 7, 59));
  mode::ServiceHandle h{fx.sys, svc};
  h.send_start();
  fx.advance(2min);
  REQUIRE(svc->fired.size() == 1);
  CHECK(std::chrono::floor<std::chrono::seconds>(svc->fired[0]) == utc(2026, 1, 5, 8, 0));
  h.send_stop();
  fx.run();
}

TEST_CASE("a failing crontab crashes its service by default, or logs and continues" *
          doctest::timeout(60)) {
  SUBCASE("crash") {
    virtual_time_fixture fx;
    auto svc = std::make_shared<Cron>("* * * * *", mode::CrontabSpec{}, true);
    svc->wall_clock = virtual_wall_clock(fx.sys, utc(2026, 3, 2, 10, 0, 30));
    mode::ServiceHandle h{fx.sys, svc};
    h.send_start();
    fx.advance(3min);
    CHECK(svc->fired.size() == 1);
    CHECK(svc->state() == ServiceState::crashed);
  }
  SUBCASE("log and continue") {
    virtual_time_fixture fx;
    mode::testing::log_capture logs;
    auto svc = std::make_shared<Cron>(
        "* * * * *",
        mode::CrontabSpec{.name = "minutely", .on_error = mode::TaskErrorPolicy::log_and_continue},
        true);
    svc->wall_clock = virtual_wall_clock(fx.sys, utc(2026, 3, 2, 10, 0, 30));
    mode::ServiceHandle h{fx.sys, svc};
    h.send_start();
    fx.advance(3min);
    CHECK(svc->fired.size() == 3);
    CHECK(svc->state() == ServiceState::running);
    CHECK(logs.contains("minutely raised (continuing): std::runtime_error: job failed"));
    h.send_stop();
    fx.run();
  }
}

TEST_CASE("bad crontabs are refused at registration, naming the input" * doctest::timeout(10)) {
  auto noop = [] {
    return task<void>{};
  };
  struct Probe : mode::Service {
    using Service::crontab;
  };
  Probe p;
  CHECK_THROWS_WITH_AS(p.crontab("61 * * * *", noop), doctest::Contains("minute field \"61\""),
                       mode::cron_error);
  CHECK_THROWS_WITH_AS(p.crontab("* * * *", noop), doctest::Contains("\"* * * *\""),
                       mode::cron_error);
  CHECK_THROWS_WITH_AS(p.crontab("0 0 30 2 *", noop), doctest::Contains("never fires"),
                       mode::cron_error);
  CHECK_THROWS_WITH_AS(p.crontab("* * * * *", noop, {.timezone = "Mars/Olympus"}),
                       doctest::Contains("Mars/Olympus"), mode::timezone_error);
}
