// The process's census of signal counts (mode/signal_stats.hpp).
#include "mode/signal_stats.hpp"

#include <map>
#include <mutex>
#include <unordered_set>
#include <utility>

namespace mode {

namespace {

struct totals {
  std::uint64_t sends = 0;
  std::uint64_t receiver_errors = 0;
};

using label_key = std::pair<std::string, std::string>;  // owner, name

struct census {
  std::mutex mtx;
  std::unordered_set<const detail::signal_counters*> live;
  std::map<label_key, totals> retired;
};

// Never destroyed: signals in static storage may go after any other static object.
census& the_census() {
  static auto* instance = new census;
  return *instance;
}

}  // namespace

namespace detail {

signal_counters::signal_counters(std::string owner, std::string name)
    : owner_(std::move(owner)), name_(std::move(name)) {
  auto& c = the_census();
  std::lock_guard<std::mutex> guard{c.mtx};
  c.live.insert(this);
}

signal_counters::~signal_counters() {
  auto& c = the_census();
  std::lock_guard<std::mutex> guard{c.mtx};
  c.live.erase(this);
  auto& t = c.retired[{owner_, name_}];
  t.sends += sends();
  t.receiver_errors += receiver_errors();
}

SignalStats signal_counters::stats() const {
  return SignalStats{owner_, name_, sends(), receiver_errors(), 1};
}

}  // namespace detail

std::vector<SignalStats> signal_stats() {
  auto& c = the_census();
  std::map<label_key, SignalStats> by_label;
  {
    std::lock_guard<std::mutex> guard{c.mtx};
    for (const auto& [key, t] : c.retired)
      by_label.emplace(key, SignalStats{key.first, key.second, t.sends, t.receiver_errors, 0});
    for (const auto* counters : c.live) {
      auto& stats = by_label
                        .try_emplace({counters->owner(), counters->name()},
                                     SignalStats{counters->owner(), counters->name()})
                        .first->second;
      stats.sends += counters->sends();
      stats.receiver_errors += counters->receiver_errors();
      ++stats.live;
    }
  }
  std::vector<SignalStats> result;
  result.reserve(by_label.size());
  for (auto& [key, stats] : by_label)
    result.push_back(std::move(stats));
  return result;
}

}  // namespace mode
