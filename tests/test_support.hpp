// Helpers for the doctest suites beyond mode/testing.hpp (the fixtures users get too).
#pragma once

#include <cstdint>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
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

/// True if /proc/net/tcp lists a socket listening on 127.0.0.1:`port` and none on
/// another address with that port.
inline bool listens_on_loopback_only(std::uint16_t port) {
  std::ifstream in{"/proc/net/tcp"};
  std::string line;
  std::getline(in, line);  // header
  bool loopback = false;
  bool other = false;
  auto suffix = fmt::format(":{:04X}", port);
  while (std::getline(in, line)) {
    std::istringstream fields{line};
    std::string slot, local, remote, state;
    fields >> slot >> local >> remote >> state;
    if (state != "0A" || !local.ends_with(suffix))
      continue;  // not listening, or another port
    (local.starts_with("0100007F") ? loopback : other) = true;
  }
  return loopback && !other;
}

}  // namespace mode::testing
