// Helpers for the doctest suites beyond mode/testing.hpp (the fixtures users get too).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include "mode/logging.hpp"
#include "mode/testing.hpp"

namespace mode::testing {

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

}  // namespace mode::testing
