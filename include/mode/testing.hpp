// mode::testing: test services on virtual time, from any test framework (doctest,
// GoogleTest, Catch2). Not included by mode/mode.hpp: include it in tests only.
//
//   mode::testing::virtual_time_fixture fx;          // CAF's test coordinator
//   auto svc = fx.spawn<MyCron>();                   // a ServiceHandle
//   svc.service()->wall_clock = fx.wall_clock(sys_days{2026_y/3/29} + 0h);
//   fx.start(svc);
//   fx.advance(1h);                                  // fires every timer on the way
//   CHECK(mine.fired == 60);
//   fx.stop(svc);
//
// On the test coordinator every actor runs on the test's own thread, and only inside
// run(), advance(), start(), stop() and crash(): between those calls the test may read
// services' state directly, and nothing runs behind its back. ServiceHandle's blocking
// calls cannot work there (nothing would run while they wait): they throw
// std::logic_error; use the fixture's start/stop/crash, or send_* and run().
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/detail/test_actor_clock.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "mode/logging.hpp"
#include "mode/service_handle.hpp"

namespace mode::testing {

/// An actor system on CAF's test coordinator: one thread, virtual time. Time moves only
/// when the test says so (advance), and every message is processed by run().
class virtual_time_fixture {
 public:
  virtual_time_fixture() : sys(configure(cfg)), sched(coordinator(sys)) {}
  /// Runs what is still pending, so that services stopped at the end finish cleanly;
  /// stops the services that start() or spawn() was given and that still run (a test
  /// that failed half-way). An actor still running after that would hang the test in
  /// ~actor_system: the fixture says which count and aborts instead.
  ~virtual_time_fixture() {
    sched.run();
    for (auto& h : touched_) {
      auto svc = h.service();
      if (svc && svc->state() != ServiceState::shutdown && svc->state() != ServiceState::init) {
        h.send_stop();
        sched.run();
      }
    }
    if (auto running = sys.registry().running(); running > 0) {
      std::fprintf(stderr,
                   "mode::testing::virtual_time_fixture: %zu actor(s) still running at the end "
                   "of the test; stop every service it started (fx.stop(handle)). Aborting "
                   "instead of waiting forever in ~actor_system.\n",
                   running);
      std::abort();
    }
  }
  virtual_time_fixture(const virtual_time_fixture&) = delete;
  virtual_time_fixture& operator=(const virtual_time_fixture&) = delete;

  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;

  /// Processes every pending message (not the delayed ones: time does not move).
  void run() { sched.run(); }

  /// Moves virtual time forward by `d`, stopping at every pending timeout on the way
  /// (timers, sleeps, crontabs, request deadlines) and processing what it triggers, so
  /// a timeout fires at its own time point. Events that are due at the same time point
  /// fire in the order they were scheduled.
  template <class Rep, class Period>
  void advance(std::chrono::duration<Rep, Period> d) {
    run();
    auto end = clock().current_time + std::chrono::duration_cast<caf::timespan>(d);
    for (;;) {
      const auto& pending = clock().schedule();
      if (pending.empty() || pending.begin()->first > end)
        break;
      auto next = pending.begin()->first;
      sched.advance_time(std::max(next - clock().current_time, caf::timespan{0}));
      run();
    }
    if (end > clock().current_time)
      sched.advance_time(end - clock().current_time);
    run();
  }

  /// The virtual time now (the actor clock's).
  [[nodiscard]] caf::actor_clock::time_point now() const { return clock().current_time; }

  /// A wall clock that reads `start` now and moves with virtual time: set it as a
  /// service's `wall_clock` to run its crontabs on virtual time.
  [[nodiscard]] std::function<std::chrono::system_clock::time_point()> wall_clock(
      std::chrono::system_clock::time_point start) const {
    auto origin = now();
    const auto* clk = &clock();
    return [clk, start, origin] {
      return start + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                         clk->current_time - origin);
    };
  }

  /// Hosts a new `S{args...}` on this system (not started).
  template <class S, class... Args>
  ServiceHandle spawn(Args&&... args) {
    auto h = mode::spawn<S>(sys, std::forward<Args>(args)...);
    touched_.push_back(h);
    return h;
  }
  /// Starts the service and runs until nothing is pending.
  void start(const ServiceHandle& h) {
    touched_.push_back(h);
    h.send_start();
    run();
  }
  /// Stops the service and runs until nothing is pending.
  void stop(const ServiceHandle& h) {
    h.send_stop();
    run();
  }
  /// Crashes the service with `reason` (as ServiceHandle::crash) and runs.
  void crash(const ServiceHandle& h, std::string reason) {
    h.crash(std::move(reason));
    run();
  }

 private:
  static caf::actor_system_config& configure(caf::actor_system_config& c) {
    c.set("scheduler.policy", caf::atom("testing"));
    return c;
  }
  static caf::scheduler::test_coordinator& coordinator(caf::actor_system& s) {
    return dynamic_cast<caf::scheduler::test_coordinator&>(s.scheduler());
  }
  [[nodiscard]] caf::detail::test_actor_clock& clock() const { return sched.clock(); }
  std::vector<ServiceHandle> touched_;  // stopped at the end if they still run
};

/// A real (threaded) actor system for one test, with 2 scheduler threads.
struct system_fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys;
  system_fixture() : sys(configure(cfg)) {}

 private:
  static caf::actor_system_config& configure(caf::actor_system_config& c) {
    c.set("scheduler.max-threads", 2);
    return c;
  }
};

/// Captures what a mode logger ("mode.services" unless named) writes while in scope,
/// at every level (the logger's level is restored afterwards). Lines read
/// `<level> <message>`: `error [^Counter]: Crashed reason=...`.
class log_capture {
 public:
  explicit log_capture(const std::string& logger_name = "mode.services", std::size_t lines = 4096)
      : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(lines)) {
    sink_->set_pattern("%l %v");
    logger_ = mode::get_logger(logger_name);
    if (logger_) {
      old_level_ = logger_->level();
      logger_->sinks().push_back(sink_);
      logger_->set_level(spdlog::level::trace);
    }
  }
  ~log_capture() {
    if (logger_) {
      std::erase(logger_->sinks(), sink_);
      logger_->set_level(old_level_);
    }
  }
  log_capture(const log_capture&) = delete;
  log_capture& operator=(const log_capture&) = delete;

  /// The captured lines, oldest first.
  [[nodiscard]] std::vector<std::string> lines() const { return sink_->last_formatted(); }
  /// True if a captured line contains `text`.
  [[nodiscard]] bool contains(const std::string& text) const {
    auto all = lines();
    return std::any_of(all.begin(), all.end(), [&](const std::string& line) {
      return line.find(text) != std::string::npos;
    });
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> logger_;
  spdlog::level::level_enum old_level_ = spdlog::level::info;
};

}  // namespace mode::testing
