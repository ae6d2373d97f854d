// flight_recorder and the timer schedulers behind it. Time is virtual (a
// ManualTimerScheduler and a fake clock) except in the two cases that prove the
// default scheduler's thread fires on its own.
#include "mode/flight_recorder.hpp"

#include <atomic>
#include <chrono>
#include <ctime>
#include <future>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <spdlog/logger.h>

using namespace std::chrono_literals;

namespace {

// A logger that records "LEVEL message" lines, and a clock the test moves.
struct fixture {
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink = mode::make_capture_sink(4096, "%* %v");
  std::shared_ptr<spdlog::logger> logger = make_logger(sink);
  mode::ManualTimerScheduler scheduler;
  std::chrono::system_clock::time_point now =
      std::chrono::system_clock::from_time_t(1524131025);  // 2018-04-19 09:43:45 UTC
  mode::flight_recorder::clock_function clock = [this] {
    return now;
  };

  static std::shared_ptr<spdlog::logger> make_logger(spdlog::sink_ptr sink) {
    auto logger = std::make_shared<spdlog::logger>("flight-recorder-test", std::move(sink));
    logger->set_level(spdlog::level::trace);
    return logger;
  }

  mode::flight_recorder recorder(std::chrono::duration<double> timeout) {
    return mode::flight_recorder{logger, timeout, scheduler, clock};
  }

  std::vector<std::string> lines() { return sink->last_formatted(); }
};

bool contains(const std::vector<std::string>& lines, const std::string& what) {
  for (const auto& line : lines)
    if (line.find(what) != std::string::npos)
      return true;
  return false;
}

// A scheduler that cannot cancel: its callbacks outlive their recorders.
struct stubborn_scheduler : mode::TimerScheduler {
  std::vector<std::function<void()>> callbacks;
  mode::TimerHandle schedule(duration, std::function<void()> fn) override {
    callbacks.push_back(std::move(fn));
    return mode::TimerHandle{[] {
      return false;
    }};
  }
};

struct cache {
  int calls = 0;
  int get(std::string_view key, int n) {
    ++calls;
    return static_cast<int>(key.size()) + n;
  }
};

}  // namespace

TEST_CASE("asctime prints Python's time.asctime in local time" * doctest::timeout(5)) {
  auto when = std::chrono::system_clock::from_time_t(1524131025);
  auto text = mode::asctime(when);
  CHECK(std::regex_match(
      text, std::regex{R"([A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \d{4})"}));
  // strftime in the C locale (the test binary never sets one) agrees.
  auto t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  localtime_r(&t, &tm);
  char expected[64];
  std::strftime(expected, sizeof expected, "%a %b %e %H:%M:%S %Y", &tm);
  CHECK(text == expected);
}

TEST_CASE("flight_recorder drops buffered lines when the scope ends first" * doctest::timeout(5)) {
  fixture f;
  {
    auto on_timeout = f.recorder(10s);
    CHECK_FALSE(on_timeout.active());
    on_timeout.activate();
    CHECK(on_timeout.active());
    on_timeout.info("+redis.get('user')");
    on_timeout.info("-redis.get('user')");
    CHECK(f.scheduler.pending() == 1);
    f.scheduler.advance(9s);
    CHECK(f.lines().empty());
  }
  CHECK(f.scheduler.pending() == 0);
  CHECK(f.scheduler.advance(1h) == 0);
  CHECK(f.lines().empty());
}

TEST_CASE("flight_recorder replays with mode's texts when the timeout passes first" *
          doctest::timeout(5)) {
  fixture f;
  auto on_timeout = f.recorder(10s);
  auto t0 = f.now;
  on_timeout.activate();
  f.now += 1s;
  on_timeout.info("+redis.get('user')");
  f.now += 3s;
  on_timeout.warn("-redis.get({}) took {}s", "'user'", 3);
  f.now += 1s;
  on_timeout.debug("+redis.get('posts')");
  CHECK(f.scheduler.advance(9s) == 0);
  CHECK(f.lines().empty());
  CHECK(f.scheduler.advance(1s) == 1);
  auto id = on_timeout.ident();
  CHECK(id == "Flight Recorder-" + std::to_string(on_timeout.id()));
  std::vector<std::string> expected{
      "WARNING Warning: Task timed out!",
      "WARNING Please make sure it's hanging before restart.",
      "INFO [" + id + "] (started at " + mode::asctime(t0) + ") Replaying logs...",
      "INFO [" + id + "] (" + mode::asctime(t0 + 1s) + ") +redis.get('user')",
      "WARNING [" + id + "] (" + mode::asctime(t0 + 4s) + ") -redis.get('user') took 3s",
      "DEBUG [" + id + "] (" + mode::asctime(t0 + 5s) + ") +redis.get('posts')",
      "INFO [" + id + "] -End of log-",
      "INFO [" + id + "] Task traceback",
      "INFO [" + id + "] -missing-: not enabled by task",
  };
  CHECK(f.lines() == expected);
  CHECK(on_timeout.timed_out());
  CHECK_FALSE(on_timeout.active());
}

TEST_CASE("flight_recorder logs straight through when not active or after the timeout" *
          doctest::timeout(5)) {
  fixture f;
  auto on_timeout = f.recorder(2s);
  on_timeout.info("before {}", "activate");
  CHECK(f.lines() == std::vector<std::string>{"INFO before activate"});
  on_timeout.activate();
  on_timeout.error("buffered");
  f.scheduler.advance(2s);
  auto replayed = f.lines().size();
  CHECK(replayed == 8);  // 1 + the 7 lines of the replay
  on_timeout.error("after the timeout");
  on_timeout.critical("still stuck");
  auto lines = f.lines();
  REQUIRE(lines.size() == replayed + 2);
  CHECK(lines[replayed] == "ERROR after the timeout");
  CHECK(lines[replayed + 1] == "CRITICAL still stuck");
  on_timeout.cancel();
  on_timeout.warning("after cancel");
  CHECK(f.lines().back() == "WARNING after cancel");
}

TEST_CASE("flight_recorder refuses a second activate until cancelled" * doctest::timeout(5)) {
  fixture f;
  auto on_timeout = f.recorder(1s);
  on_timeout.activate();
  try {
    on_timeout.activate();
    FAIL("a second activate() was accepted");
  } catch (const std::logic_error& e) {
    CHECK(std::string{e.what()}.find(on_timeout.ident() + " already activated") !=
          std::string::npos);
  }
  CHECK(f.scheduler.pending() == 1);
  // Timed out but not cancelled: still refused, as in mode.
  f.scheduler.advance(1s);
  CHECK_THROWS_AS(on_timeout.activate(), std::logic_error);
  on_timeout.cancel();
  on_timeout.activate();
  CHECK(on_timeout.active());
  CHECK(f.scheduler.pending() == 1);
}

TEST_CASE("flight_recorder rejects a bad timeout or a null logger" * doctest::timeout(5)) {
  fixture f;
  try {
    f.recorder(-1s);
    FAIL("a negative timeout was accepted");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string{e.what()}.find("'-1s'") != std::string::npos);
  }
  CHECK_THROWS_AS(f.recorder(std::chrono::duration<double>{std::nan("")}), std::invalid_argument);
  CHECK_THROWS_AS((mode::flight_recorder{nullptr, 1s, f.scheduler}), std::invalid_argument);
}

TEST_CASE("nested flight_recorders inherit extra_context" * doctest::timeout(5)) {
  fixture f;
  auto outer = f.recorder(10s);
  outer.extra_context("app", "redis-cache");
  outer.extra_context("service", "outer");
  outer.activate();
  auto inner = outer.nested(5s);
  inner.extra_context("service", "inner");  // its own value wins
  inner.activate();
  CHECK(inner.extra_context() ==
        std::map<std::string, std::string>{{"app", "redis-cache"}, {"service", "inner"}});
  inner.info("+refresh");
  outer.info("outer step");
  CHECK(f.scheduler.advance(5s) == 1);  // only the inner one fires
  auto lines = f.lines();
  REQUIRE(lines.size() == 7);
  CHECK(lines[3] == "INFO [" + inner.ident() + "] (" + mode::asctime(f.now) +
                        ") +refresh app='redis-cache', service='inner'");
  CHECK_FALSE(contains(lines, "outer step"));
  CHECK(outer.active());
  CHECK(inner.id() != outer.id());
}

TEST_CASE("flight_recorder names what enabled it and where it is stuck" * doctest::timeout(5)) {
  fixture f;
  auto on_timeout = f.recorder(1s);
  on_timeout.enabled_by("RedisCache._background_refresh");
  on_timeout.task_traceback([] { return std::string{"waiting in redis.get at cache.cpp:42"}; });
  CHECK(on_timeout.enabled_by() == "RedisCache._background_refresh");
  on_timeout.activate();
  f.scheduler.advance(1s);
  auto lines = f.lines();
  REQUIRE(lines.size() == 7);
  CHECK(lines[5] == "INFO [" + on_timeout.ident() + "] Enabled by RedisCache._background_refresh");
  CHECK(lines[6] == "INFO waiting in redis.get at cache.cpp:42");
  // A nested recorder runs in the same task.
  auto inner = on_timeout.nested(1s);
  CHECK(inner.enabled_by() == "RedisCache._background_refresh");
}

TEST_CASE("destroying a flight_recorder with a pending timeout is safe" * doctest::timeout(5)) {
  fixture f;
  {
    auto on_timeout = f.recorder(1s);
    on_timeout.activate();
    on_timeout.info("lost");
  }
  CHECK(f.scheduler.pending() == 0);
  CHECK(f.scheduler.advance(1s) == 0);
  // A scheduler that cannot cancel runs the callback after the recorder died.
  stubborn_scheduler stubborn;
  {
    mode::flight_recorder on_timeout{f.logger, 1s, stubborn, f.clock};
    on_timeout.activate();
    on_timeout.info("lost too");
  }
  REQUIRE(stubborn.callbacks.size() == 1);
  stubborn.callbacks.front()();
  CHECK(f.lines().empty());
  // So does a cancel-and-reactivate: the first activation's callback is stale.
  mode::flight_recorder again{f.logger, 1s, stubborn, f.clock};
  again.activate();
  again.cancel();
  again.activate();
  stubborn.callbacks[1]();
  CHECK(f.lines().empty());
  stubborn.callbacks[2]();
  CHECK(contains(f.lines(), "Warning: Task timed out!"));
}

TEST_CASE("a moved flight_recorder keeps its timeout" * doctest::timeout(5)) {
  fixture f;
  auto first = f.recorder(1s);
  first.activate();
  first.info("kept");
  auto second = std::move(first);
  CHECK(f.scheduler.pending() == 1);
  f.scheduler.advance(1s);
  CHECK(contains(f.lines(), ") kept"));
  CHECK(second.timed_out());
}

TEST_CASE("wrap logs calls through the recorder" * doctest::timeout(5)) {
  fixture f;
  cache c;
  auto on_timeout = f.recorder(1s);
  auto client = on_timeout.wrap_info(c);
  on_timeout.activate();
  CHECK(client.call("get", &cache::get, "user", 2) == 6);
  CHECK(client.call("touch", [](cache& x) { return ++x.calls; }) == 2);
  CHECK(client->calls == 2);  // member access is not logged
  CHECK(f.lines().empty());
  f.scheduler.advance(1s);
  auto lines = f.lines();
  REQUIRE(lines.size() == 8);
  auto date = mode::asctime(f.now);
  CHECK(lines[3] == "INFO [" + on_timeout.ident() + "] (" + date + ") get('user', 2)");
  CHECK(lines[4] == "INFO [" + on_timeout.ident() + "] (" + date + ") touch()");
  // Not active: straight to the logger, at wrap_error's severity.
  auto errors = on_timeout.wrap_error(c);
  errors.call("get", &cache::get, std::string{"k"}, 0);
  CHECK(f.lines().back() == "ERROR get('k', 0)");
}

TEST_CASE("Logwrapped logs to a plain logger with mode's defaults" * doctest::timeout(5)) {
  fixture f;
  cache c;
  mode::Logwrapped<cache> wrapped{c, f.logger, mode::Severity::warning, "cache."};
  CHECK(wrapped.call("get", &cache::get, "ab", 1) == 3);
  CHECK(f.lines() == std::vector<std::string>{"WARNING cache.get('ab', 1)"});
  CHECK(wrapped.severity() == mode::Severity::warning);
}

TEST_CASE("flight_recorder is safe to log from threads while it times out" * doctest::timeout(10)) {
  fixture f;
  auto on_timeout = f.recorder(1s);
  on_timeout.activate();
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      while (!go)
        std::this_thread::yield();
      for (int i = 0; i < 200; ++i)
        on_timeout.info("msg {} {}", t, i);
    });
  go = true;
  f.scheduler.advance(1s);
  for (auto& th : threads)
    th.join();
  auto lines = f.lines();
  std::size_t messages = 0;
  for (const auto& line : lines)
    messages += line.find("msg ") != std::string::npos ? 1 : 0;
  CHECK(messages == 800);  // each line either replayed or logged, never lost
  CHECK(contains(lines, "-End of log-"));
}

TEST_CASE("ManualTimerScheduler fires by deadline, ties in order, and cancels" *
          doctest::timeout(5)) {
  mode::ManualTimerScheduler s;
  std::vector<int> order;
  s.schedule(3s, [&] { order.push_back(3); });
  s.schedule(1s, [&] { order.push_back(1); });
  auto h = s.schedule(2s, [&] { order.push_back(2); });
  s.schedule(1s, [&] {
    order.push_back(11);
    s.schedule(0s, [&] { order.push_back(12); });  // due at once: runs in this advance
  });
  CHECK(h.valid());
  CHECK(h.cancel());
  CHECK_FALSE(h.cancel());
  CHECK_FALSE(h.valid());
  CHECK(s.advance(1s) == 3);
  CHECK(order == std::vector<int>{1, 11, 12});
  CHECK(s.now() == 1s);
  CHECK(s.pending() == 1);
  CHECK(s.advance(5s) == 1);
  CHECK(order == std::vector<int>{1, 11, 12, 3});
  CHECK_FALSE(mode::TimerHandle{}.cancel());
}

TEST_CASE("ThreadTimerScheduler fires on its own thread and cancels" * doctest::timeout(15)) {
  std::atomic<int> wrong_runs{0};
  mode::ThreadTimerScheduler s;
  auto far = s.schedule(1h, [&] { ++wrong_runs; });
  CHECK(s.pending() == 1);
  CHECK(far.cancel());
  CHECK_FALSE(far.cancel());
  CHECK(s.pending() == 0);
  std::promise<std::thread::id> fired;
  s.schedule(0s, [] { throw std::runtime_error("expected test exception: ignore"); });
  s.schedule(1ms, [&] { fired.set_value(std::this_thread::get_id()); });
  auto result = fired.get_future();
  REQUIRE(result.wait_for(10s) == std::future_status::ready);
  CHECK(result.get() != std::this_thread::get_id());
  // Pending callbacks are dropped, not run, when the scheduler goes away.
  auto never = std::make_unique<mode::ThreadTimerScheduler>();
  never->schedule(1h, [&] { ++wrong_runs; });
  never.reset();
  CHECK(wrong_runs == 0);
}

TEST_CASE("flight_recorder fires on the default scheduler while its owner hangs" *
          doctest::timeout(15)) {
  auto sink = mode::make_capture_sink(64, "%v");
  auto logger = std::make_shared<spdlog::logger>("flight-recorder-default", sink);
  mode::flight_recorder on_timeout{logger, 20ms};
  on_timeout.activate();
  on_timeout.info("about to hang");
  // The "hang": this thread only polls; the timeout needs no help from it.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!contains(sink->last_formatted(), "-End of log-") &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  auto lines = sink->last_formatted();
  CHECK(contains(lines, "Warning: Task timed out!"));
  CHECK(contains(lines, ") about to hang"));
  CHECK(on_timeout.timed_out());
}
