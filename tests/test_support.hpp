// Shared helpers for the doctest suites.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <caf/all.hpp>
#include "mode/logging.hpp"

namespace mode::testing {

/// A real (threaded) actor system for one test.
struct system_fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys;
  system_fixture() : sys(init(cfg)) {}
  static caf::actor_system_config& init(caf::actor_system_config& c) {
    c.set("scheduler.max-threads", 2);
    return c;
  }
};

/// An actor system on CAF's test coordinator: one thread, virtual time. Messages are
/// processed only inside run()/advance(); between them the test may read services'
/// state directly.
struct virtual_time_fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  virtual_time_fixture()
      : sys(init(cfg)), sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())) {}
  ~virtual_time_fixture() { sched.run(); }
  static caf::actor_system_config& init(caf::actor_system_config& c) {
    c.set("scheduler.policy", caf::atom("testing"));
    return c;
  }
  /// Processes every pending message.
  void run() { sched.run(); }
  /// Moves virtual time forward by `d` in steps of `step`, firing timers as it goes.
  template <class Duration, class Step = std::chrono::milliseconds>
  void advance(Duration d, Step step = std::chrono::milliseconds{1}) {
    run();
    auto left = std::chrono::duration_cast<caf::timespan>(d);
    auto s = std::chrono::duration_cast<caf::timespan>(step);
    while (left.count() > 0) {
      auto n = std::min(left, s);
      sched.advance_time(n);
      run();
      left -= n;
    }
  }
};

/// A thread-safe list of events that services record, to assert order.
class recorder {
 public:
  void add(std::string what) {
    std::lock_guard<std::mutex> guard{mtx_};
    events_.push_back(std::move(what));
  }
  std::vector<std::string> events() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return events_;
  }
  std::size_t count(const std::string& what) const {
    std::lock_guard<std::mutex> guard{mtx_};
    std::size_t n = 0;
    for (auto& e : events_)
      n += e == what ? 1 : 0;
    return n;
  }
  void clear() {
    std::lock_guard<std::mutex> guard{mtx_};
    events_.clear();
  }

 private:
  mutable std::mutex mtx_;
  std::vector<std::string> events_;
};

/// Captures what the "mode.services" logger writes while in scope.
class log_capture {
 public:
  explicit log_capture(const std::string& logger_name = "mode.services")
      : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(4096)) {
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
      auto& sinks = logger_->sinks();
      std::erase(sinks, sink_);
      logger_->set_level(old_level_);
    }
  }
  std::vector<std::string> lines() const { return sink_->last_formatted(); }
  bool contains(const std::string& text) const {
    for (auto& line : lines())
      if (line.find(text) != std::string::npos)
        return true;
    return false;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> logger_;
  spdlog::level::level_enum old_level_ = spdlog::level::info;
};

}  // namespace mode::testing
