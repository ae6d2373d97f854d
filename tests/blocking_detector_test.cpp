// BlockingDetector: activity slots, detection on a fake clock, rate limit, and a real
// service actor that blocks its thread.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "mode/blocking_detector.hpp"
#include "mode/service.hpp"
#include "mode/service_handle.hpp"
#include "test_support.hpp"

using namespace std::chrono_literals;
using mode::ActivityRegistry;
using mode::ActivitySlot;
using mode::BlockingDetector;
using mode::BlockingDetectorOptions;
using mode::BlockingReport;

namespace {

struct Probe {};

/// A fake clock and a reporter that keeps what it gets.
struct harness {
  using clock_type = BlockingDetectorOptions::clock_type;
  ActivityRegistry registry;
  std::mutex mtx;
  clock_type::time_point now{std::chrono::hours{1}};
  std::vector<BlockingReport> reports;

  BlockingDetectorOptions options(double timeout, std::size_t per_minute = 100) {
    BlockingDetectorOptions opts;
    opts.timeout = timeout;
    opts.registry = &registry;
    opts.max_reports_per_minute = per_minute;
    opts.clock = [this] {
      std::lock_guard<std::mutex> guard{mtx};
      return now;
    };
    opts.reporter = [this](const BlockingReport& r) {
      std::lock_guard<std::mutex> guard{mtx};
      reports.push_back(r);
    };
    return opts;
  }
  void advance(std::chrono::milliseconds d) {
    std::lock_guard<std::mutex> guard{mtx};
    now += d;
  }
  std::size_t count() {
    std::lock_guard<std::mutex> guard{mtx};
    return reports.size();
  }
};

}  // namespace

TEST_CASE("an activity slot counts messages and knows when one is running" * doctest::timeout(10)) {
  ActivityRegistry registry;
  ActivitySlot slot{typeid(Probe), "probe", &registry};
  CHECK(registry.size() == 1);
  auto idle = slot.read();
  CHECK_FALSE(idle.busy);
  auto token = slot.enter("resume");
  auto busy = slot.read();
  CHECK(busy.busy);
  CHECK(busy.generation == idle.generation + 1);
  CHECK(std::string{busy.handler} == "resume");
  // A nested handler ends: the outer one is still running, same generation.
  auto inner = slot.enter("begin");
  CHECK(slot.read().generation == busy.generation + 1);
  slot.leave(inner);
  CHECK(slot.read().busy);
  CHECK(slot.read().generation == busy.generation);
  slot.leave(token);
  CHECK_FALSE(slot.read().busy);
  {
    ActivitySlot other{typeid(Probe), {}, &registry};
    CHECK(registry.size() == 2);
    CHECK(other.label() == "Probe");  // no label given: the class name
    CHECK(other.id() != slot.id());
  }
  CHECK(registry.size() == 1);
}

TEST_CASE(
    "a handler running longer than the timeout is reported, naming service, handler "
    "and where the task waited" *
    doctest::timeout(10)) {
  harness h;
  BlockingDetector detector{h.options(2.0)};
  ActivitySlot slot{typeid(Probe), "Sluggish", &h.registry};
  auto where = std::source_location::current();
  auto token = slot.enter("resume", where);
  CHECK(detector.check() == 0);  // first sight
  h.advance(1999ms);
  CHECK(detector.check() == 0);
  h.advance(1ms);
  CHECK(detector.check() == 1);
  REQUIRE(h.reports.size() == 1);
  auto& r = h.reports[0];
  CHECK(r.service == "Sluggish");
  CHECK(r.handler == "resume");
  CHECK(r.where.find("blocking_detector_test.cpp:" + std::to_string(where.line())) !=
        std::string::npos);
  CHECK(r.blocked_for == std::chrono::duration<double>(2.0));
  auto text = r.message();
  CHECK(text.find("Blocking detected (timeout=2s)") == 0);
  CHECK(text.find("Sluggish") != std::string::npos);
  CHECK(text.find("'resume'") != std::string::npos);
  // Still stuck: reported again one timeout later, not before.
  h.advance(1s);
  CHECK(detector.check() == 0);
  h.advance(1s);
  CHECK(detector.check() == 1);
  CHECK(h.reports.back().blocked_for == std::chrono::duration<double>(4.0));
  slot.leave(token);
  h.advance(10s);
  CHECK(detector.check() == 0);
}

TEST_CASE("short handlers are never reported, however many there are" * doctest::timeout(10)) {
  harness h;
  BlockingDetector detector{h.options(1.0)};
  ActivitySlot slot{typeid(Probe), "Busy", &h.registry};
  for (int i = 0; i < 50; ++i) {
    // Busy at every check, but with a new message each time.
    auto token = slot.enter("resume");
    CHECK(detector.check() == 0);
    h.advance(600ms);
    slot.leave(token);
  }
  CHECK(h.count() == 0);
}

TEST_CASE("reports are rate limited and the next one counts those dropped" * doctest::timeout(10)) {
  harness h;
  BlockingDetector detector{h.options(1.0, 3)};
  std::vector<std::unique_ptr<ActivitySlot>> slots;
  for (int i = 0; i < 5; ++i) {
    slots.push_back(
        std::make_unique<ActivitySlot>(typeid(Probe), fmt::format("S{}", i), &h.registry));
    (void)slots.back()->enter("begin");
  }
  detector.check();
  h.advance(1s);
  CHECK(detector.check() == 3);  // 5 blocked, 3 allowed per minute
  h.advance(1s);
  CHECK(detector.check() == 0);  // 5 more due, all dropped
  h.advance(60s);
  CHECK(detector.check() == 3);
  CHECK(h.reports[3].suppressed == 7);
  CHECK(h.reports[3].message().find("[7 more reports suppressed]") != std::string::npos);
  CHECK(h.reports[4].suppressed == 0);
}

TEST_CASE("a detector refuses a timeout that is not positive" * doctest::timeout(10)) {
  BlockingDetectorOptions opts;
  opts.timeout = 0;
  CHECK_THROWS_WITH_AS(BlockingDetector{opts}, doctest::Contains("'0'"), std::invalid_argument);
  opts.timeout = -1.5;
  CHECK_THROWS_WITH_AS(BlockingDetector{opts}, doctest::Contains("'-1.5'"), std::invalid_argument);
}

TEST_CASE("the detector's thread checks on its own" * doctest::timeout(30)) {
  harness h;
  BlockingDetector detector{h.options(0.04)};
  ActivitySlot slot{typeid(Probe), "Stuck", &h.registry};
  auto token = slot.enter("begin");
  detector.start();
  detector.start();  // idempotent
  // Fake time jumps on while the thread keeps checking (every 10 ms of real time).
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (h.count() == 0 && std::chrono::steady_clock::now() < deadline) {
    h.advance(10ms);
    std::this_thread::yield();
  }
  detector.stop();
  detector.stop();
  CHECK(h.count() >= 1);
  slot.leave(token);
}

namespace {

// Blocks its actor's thread in on_start until released.
class Blocker : public mode::Service {
 public:
  std::string label() const override { return "Blocker"; }
  mode::task<void> on_start() override {
    entered.store(true);
    while (!released.load())
      std::this_thread::sleep_for(1ms);
    co_return;
  }
  std::atomic<bool> entered{false};
  std::atomic<bool> released{false};
};

}  // namespace

TEST_CASE("a service actor that blocks its thread is reported with its label" *
          doctest::timeout(60)) {
  mode::testing::system_fixture fx;
  std::mutex mtx;
  std::vector<BlockingReport> reports;
  auto now = std::chrono::steady_clock::now();
  BlockingDetectorOptions opts;
  opts.timeout = 5.0;
  opts.clock = [&] {
    std::lock_guard<std::mutex> guard{mtx};
    return now;
  };
  opts.reporter = [&](const BlockingReport& r) {
    std::lock_guard<std::mutex> guard{mtx};
    reports.push_back(r);
  };
  // Made before the service: while a detector watches, actors record their label.
  BlockingDetector detector{opts};
  auto svc = std::make_shared<Blocker>();
  mode::ServiceHandle h{fx.sys, svc};
  h.send_start();
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!svc->entered.load() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  REQUIRE(svc->entered.load());
  detector.check();
  {
    std::lock_guard<std::mutex> guard{mtx};
    now += 5s;
  }
  detector.check();
  svc->released.store(true);
  h.stop();
  std::lock_guard<std::mutex> guard{mtx};
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].service == "Blocker");
  CHECK(reports[0].handler == "start");  // on_start runs in the start request's handler
}
