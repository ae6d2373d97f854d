// Restart throughput of mode's supervisors against the raw-CAF floor, in one run.
//
// ours:    a OneForOneSupervisor (restart limit off) holding K children (K = 1, 100)
//          that crash right after they start (on_started calls crash()); every start
//          of a child is one real restart. OneForAllSupervisor with 10 children, the
//          last of which crashes right after start: every crash restarts the group (9
//          in place, the crashed one on a fresh actor).
// raw CAF: the least a supervisor on CAF must do per restart: spawn + monitor + a
//          start message + the child quits with an error + down_msg + respawn; K
//          children in flight.
//
// Every measurement runs on a fresh actor system (default scheduler: one worker per
// core), for --seconds (default 1) after a warm-up of a quarter of that. The floor and
// ours alternate for --rounds rounds (default 5), so a burst of load from elsewhere
// hits both; each JSON line gives the medians, and ratio is the median of the
// per-round ratios ours / floor (same number of children; for one_for_all, child
// restarts per second against the floor for 10 children):
//   {"bench":"restart","strategy":"raw_caf","children":1,"cycles_per_s":...}
//   {"bench":"restart","strategy":"one_for_one","children":1,"restarts_per_s":...,
//    "raw_caf_cycles_per_s":...,"ratio":...}
//   {"bench":"restart","strategy":"one_for_all","children":10,"group_restarts_per_s":...,
//    "restarts_per_s":...,"raw_caf_cycles_per_s":...,"ratio":...}
// Options: --seconds=S, --rounds=N, --only=raw_caf|one_for_one|one_for_all,
// --children=K, --skip-floor (ours only, to profile it).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include "mode/logging.hpp"
#include "mode/service_handle.hpp"
#include "mode/supervisors.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
using go_atom = caf::atom_constant<caf::atom("go")>;

double seconds_arg = 1.0;
int rounds_arg = 5;
std::string only_arg;     // run only this strategy (for profiling); empty: all
int children_arg = 0;     // run only this number of children; 0: all
bool skip_floor = false;  // --skip-floor: ours only (for profiling); no ratio

bool wanted(const char* strategy, int children) {
  return (only_arg.empty() || only_arg == strategy) &&
         (children_arg == 0 || children_arg == children);
}

/// Counts `counter` over the measuring window: warm-up, then `seconds_arg`.
double rate_of(const std::atomic<std::uint64_t>& counter) {
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds_arg / 4));
  auto c0 = counter.load();
  auto t0 = clock_type::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds_arg));
  auto c1 = counter.load();
  auto t1 = clock_type::now();
  return static_cast<double>(c1 - c0) / std::chrono::duration<double>(t1 - t0).count();
}

// -- the raw-CAF floor ----------------------------------------------------------------------

caf::behavior raw_child(caf::event_based_actor* self) {
  return {
      [self](go_atom) { self->quit(caf::make_error(caf::sec::runtime_error)); },
  };
}

struct raw_state {
  std::atomic<std::uint64_t>* cycles;
  std::atomic<bool>* running;
};

caf::behavior raw_supervisor(caf::stateful_actor<raw_state>* self, int children,
                             std::atomic<std::uint64_t>* cycles, std::atomic<bool>* running) {
  self->state.cycles = cycles;
  self->state.running = running;
  auto respawn = [self] {
    auto child = self->spawn(raw_child);
    self->monitor(child);
    self->send(child, go_atom::value);
  };
  for (int i = 0; i < children; ++i)
    respawn();
  self->set_down_handler([self, respawn](caf::down_msg&) {
    self->state.cycles->fetch_add(1, std::memory_order_relaxed);
    if (self->state.running->load(std::memory_order_relaxed))
      respawn();
    else
      self->quit();
  });
  return {[](int) {
  }};
}

double raw_floor(int children) {
  std::atomic<std::uint64_t> cycles{0};
  std::atomic<bool> running{true};
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto sup = sys.spawn(raw_supervisor, children, &cycles, &running);
  auto rate = rate_of(cycles);
  running = false;
  return rate;
}

// -- ours -------------------------------------------------------------------------------------

/// Crashes right after it started, `starts` counting its starts.
class Crasher : public mode::Service {
 public:
  explicit Crasher(std::atomic<std::uint64_t>* starts) : starts_(starts) {}
  mode::task<void> on_started() override {
    starts_->fetch_add(1, std::memory_order_relaxed);
    crash("boom");
    co_return;
  }

 private:
  std::atomic<std::uint64_t>* starts_;
};

/// Counts its starts; never crashes by itself.
class Steady : public mode::Service {
 public:
  explicit Steady(std::atomic<std::uint64_t>* starts) : starts_(starts) {}
  mode::task<void> on_started() override {
    starts_->fetch_add(1, std::memory_order_relaxed);
    co_return;
  }

 private:
  std::atomic<std::uint64_t>* starts_;
};

double one_for_one(int children) {
  std::atomic<std::uint64_t> starts{0};
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  mode::SupervisorOptions opts;
  opts.max_restarts = std::nullopt;
  auto sup = std::make_shared<mode::OneForOneSupervisor>(opts);
  for (int i = 0; i < children; ++i)
    sup->add(std::make_shared<Crasher>(&starts));
  mode::ServiceHandle h{sys, sup};
  h.start();
  auto rate = rate_of(starts);
  h.stop();
  return rate;
}

struct group_rates {
  double groups_per_s;
  double restarts_per_s;
};

group_rates one_for_all(int children) {
  std::atomic<std::uint64_t> first_starts{0};
  std::atomic<std::uint64_t> all_starts{0};
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  mode::SupervisorOptions opts;
  opts.max_restarts = std::nullopt;
  auto sup = std::make_shared<mode::OneForAllSupervisor>(opts);
  sup->add(std::make_shared<Steady>(&first_starts));
  for (int i = 1; i < children - 1; ++i)
    sup->add(std::make_shared<Steady>(&all_starts));
  sup->add(std::make_shared<Crasher>(&all_starts));
  mode::ServiceHandle h{sys, sup};
  h.start();
  // Both counters over the same window: the first child starts once per group.
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds_arg / 4));
  auto g0 = first_starts.load();
  auto a0 = all_starts.load();
  auto t0 = clock_type::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds_arg));
  auto g1 = first_starts.load();
  auto a1 = all_starts.load();
  auto secs = std::chrono::duration<double>(clock_type::now() - t0).count();
  h.stop();
  auto groups = static_cast<double>(g1 - g0);
  return {groups / secs, (groups + static_cast<double>(a1 - a0)) / secs};
}

double median(std::vector<double> xs) {
  if (xs.empty())
    return 0.0;
  std::sort(xs.begin(), xs.end());
  auto n = xs.size();
  return n % 2 == 1 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

bool parse_args(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char* prefix) -> const char* {
      auto n = std::strlen(prefix);
      return arg.compare(0, n, prefix) == 0 ? argv[i] + n : nullptr;
    };
    char* end = nullptr;
    if (auto* v = value("--seconds=")) {
      seconds_arg = std::strtod(v, &end);
      if (end == v || *end != '\0' || !(seconds_arg > 0)) {
        std::fprintf(stderr, "restart_bench: bad --seconds value '%s'\n", v);
        return false;
      }
    } else if (auto* v = value("--rounds=")) {
      rounds_arg = static_cast<int>(std::strtol(v, &end, 10));
      if (end == v || *end != '\0' || rounds_arg <= 0) {
        std::fprintf(stderr, "restart_bench: bad --rounds value '%s'\n", v);
        return false;
      }
    } else if (auto* v = value("--only=")) {
      only_arg = v;
      if (only_arg != "raw_caf" && only_arg != "one_for_one" && only_arg != "one_for_all") {
        std::fprintf(stderr,
                     "restart_bench: bad --only value '%s' (raw_caf, one_for_one or "
                     "one_for_all)\n",
                     v);
        return false;
      }
    } else if (auto* v = value("--children=")) {
      children_arg = static_cast<int>(std::strtol(v, &end, 10));
      if (end == v || *end != '\0' || children_arg <= 0) {
        std::fprintf(stderr, "restart_bench: bad --children value '%s'\n", v);
        return false;
      }
    } else if (arg == "--skip-floor") {
      skip_floor = true;
    } else {
      std::fprintf(stderr,
                   "restart_bench: unknown argument '%s' (options: --seconds=S, --rounds=N, "
                   "--only=STRATEGY, --children=K, --skip-floor)\n",
                   argv[i]);
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (!parse_args(argc, argv))
    return 2;
  // The crash and restart lines would dominate the run: silence them.
  mode::get_logger("mode.services")->set_level(spdlog::level::off);
  mode::get_logger("mode.supervisors")->set_level(spdlog::level::off);
  auto threads = std::thread::hardware_concurrency();
  auto print_raw = [&](int k, double raw) {
    std::printf(
        "{\"bench\":\"restart\",\"strategy\":\"raw_caf\",\"children\":%d,\"threads\":%u,"
        "\"rounds\":%d,\"cycles_per_s\":%.0f}\n",
        k, threads, rounds_arg, raw);
    std::fflush(stdout);
  };
  for (int k : {1, 100}) {
    bool ours_wanted = wanted("one_for_one", k);
    bool raw_wanted = !skip_floor && (ours_wanted || wanted("raw_caf", k));
    if (!ours_wanted && !raw_wanted)
      continue;
    std::vector<double> raws;
    std::vector<double> ours;
    std::vector<double> ratios;
    for (int r = 0; r < rounds_arg; ++r) {
      if (raw_wanted)
        raws.push_back(raw_floor(k));
      if (ours_wanted)
        ours.push_back(one_for_one(k));
      if (raw_wanted && ours_wanted)
        ratios.push_back(ours.back() / raws.back());
    }
    if (raw_wanted)
      print_raw(k, median(raws));
    if (ours_wanted) {
      std::printf(
          "{\"bench\":\"restart\",\"strategy\":\"one_for_one\",\"children\":%d,"
          "\"threads\":%u,\"rounds\":%d,\"restarts_per_s\":%.0f,"
          "\"raw_caf_cycles_per_s\":%.0f,\"ratio\":%.3f}\n",
          k, threads, rounds_arg, median(ours), median(raws), median(ratios));
      std::fflush(stdout);
    }
  }
  bool all_wanted = wanted("one_for_all", 10);
  bool raw10_wanted = !skip_floor && (all_wanted || wanted("raw_caf", 10));
  if (all_wanted || raw10_wanted) {
    std::vector<double> raws;
    std::vector<double> groups;
    std::vector<double> restarts;
    std::vector<double> ratios;
    for (int r = 0; r < rounds_arg; ++r) {
      if (raw10_wanted)
        raws.push_back(raw_floor(10));
      if (all_wanted) {
        auto all = one_for_all(10);
        groups.push_back(all.groups_per_s);
        restarts.push_back(all.restarts_per_s);
      }
      if (raw10_wanted && all_wanted)
        ratios.push_back(restarts.back() / raws.back());
    }
    if (raw10_wanted)
      print_raw(10, median(raws));
    if (all_wanted)
      std::printf(
          "{\"bench\":\"restart\",\"strategy\":\"one_for_all\",\"children\":10,"
          "\"threads\":%u,\"rounds\":%d,\"group_restarts_per_s\":%.0f,"
          "\"restarts_per_s\":%.0f,\"raw_caf_cycles_per_s\":%.0f,\"ratio\":%.3f}\n",
          threads, rounds_arg, median(groups), median(restarts), median(raws), median(ratios));
  }
  return 0;
}
