// Restart throughput of mode's supervisors against the raw-CAF floor, in one run.
//
// mode:    a OneForOneSupervisor (restart limit off) holding K children (K = 1, 100)
//          that crash right after they start (on_started calls crash()); every start
//          of a child is one real restart. OneForAllSupervisor with 10 children, the
//          last of which crashes right after start: every crash restarts the group
//          (9 in place, the crashed one on a fresh actor).
// caf:     the least a supervisor on CAF does per restart: spawn + monitor + a start
//          message + the child quits with an error + down_msg + respawn; K children
//          in flight.
//
// Every measurement runs on a fresh actor system for a window of 1 s (0.1 s with
// --quick) after a warm-up of a quarter of that. mode and caf alternate for --reps
// rounds (default 5), so a burst of load from elsewhere hits both; each line gives
// medians, and `ratio` is the median of the per-round ratios mode / caf (same number
// of children; for one_for_all: child restarts per second against the floor for 10).
//   {"bench":"restart","strategy":"one_for_one","children":1,"impl":"mode",
//    "restarts_per_s":...,"raw_caf_cycles_per_s":...,"ratio":...}
//   {"bench":"restart","strategy":"raw_caf","children":1,"impl":"caf","cycles_per_s":...}
//   {"bench":"restart","strategy":"one_for_all","children":10,"impl":"mode",
//    "group_restarts_per_s":...,"restarts_per_s":...,"raw_caf_cycles_per_s":...,"ratio":...}
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include "bench_support.hpp"
#include "mode/logging.hpp"
#include "mode/service_handle.hpp"
#include "mode/supervisors.hpp"

namespace {

namespace bench = mode::bench;
using go_atom = caf::atom_constant<caf::atom("go")>;
using counter = std::atomic<std::uint64_t>;

/// The measuring window (after a warm-up of a quarter of it).
std::chrono::duration<double> window{1.0};

/// How fast `c` grows over the window.
double rate_of(const counter& c) {
  std::this_thread::sleep_for(window / 4);
  auto c0 = c.load();
  bench::stopwatch sw;
  std::this_thread::sleep_for(window);
  auto c1 = c.load();
  return static_cast<double>(c1 - c0) / (sw.elapsed_us() / 1e6);
}

// -- the raw-CAF floor ----------------------------------------------------------------------

caf::behavior raw_child(caf::event_based_actor* self) {
  return {
      [self](go_atom) { self->quit(caf::make_error(caf::sec::runtime_error)); },
  };
}

caf::behavior raw_supervisor(caf::event_based_actor* self, int children, counter* cycles,
                             std::atomic<bool>* running) {
  auto respawn = [self] {
    auto child = self->spawn(raw_child);
    self->monitor(child);
    self->send(child, go_atom::value);
  };
  for (int i = 0; i < children; ++i)
    respawn();
  self->set_down_handler([self, respawn, cycles, running](caf::down_msg&) {
    cycles->fetch_add(1, std::memory_order_relaxed);
    if (running->load(std::memory_order_relaxed))
      respawn();
    else
      self->quit();
  });
  return {[](int) {
  }};
}

double raw_floor(int children, const bench::options& opts) {
  counter cycles{0};
  std::atomic<bool> running{true};
  caf::actor_system_config cfg;
  caf::actor_system sys{bench::configure(cfg, opts)};
  auto sup = sys.spawn(raw_supervisor, children, &cycles, &running);
  auto rate = rate_of(cycles);
  running = false;
  return rate;
}

// -- mode -------------------------------------------------------------------------------------

/// Crashes right after it started; counts its starts.
class Crasher : public mode::Service {
 public:
  explicit Crasher(counter* starts) : starts_(starts) {}
  mode::task<void> on_started() override {
    starts_->fetch_add(1, std::memory_order_relaxed);
    crash("boom");
    co_return;
  }

 private:
  counter* starts_;
};

/// Counts its starts; never crashes by itself.
class Steady : public mode::Service {
 public:
  explicit Steady(counter* starts) : starts_(starts) {}
  mode::task<void> on_started() override {
    starts_->fetch_add(1, std::memory_order_relaxed);
    co_return;
  }

 private:
  counter* starts_;
};

mode::SupervisorOptions unlimited() {
  mode::SupervisorOptions opts;
  opts.max_restarts = std::nullopt;
  return opts;
}

double one_for_one(int children, const bench::options& opts) {
  counter starts{0};
  caf::actor_system_config cfg;
  caf::actor_system sys{bench::configure(cfg, opts)};
  auto sup = std::make_shared<mode::OneForOneSupervisor>(unlimited());
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

group_rates one_for_all(int children, const bench::options& opts) {
  counter first_starts{0};
  counter other_starts{0};
  caf::actor_system_config cfg;
  caf::actor_system sys{bench::configure(cfg, opts)};
  auto sup = std::make_shared<mode::OneForAllSupervisor>(unlimited());
  sup->add(std::make_shared<Steady>(&first_starts));
  for (int i = 1; i < children - 1; ++i)
    sup->add(std::make_shared<Steady>(&other_starts));
  sup->add(std::make_shared<Crasher>(&other_starts));
  mode::ServiceHandle h{sys, sup};
  h.start();
  // Both counters over the same window: the first child starts once per group.
  std::this_thread::sleep_for(window / 4);
  auto g0 = first_starts.load();
  auto o0 = other_starts.load();
  bench::stopwatch sw;
  std::this_thread::sleep_for(window);
  auto g1 = first_starts.load();
  auto o1 = other_starts.load();
  auto secs = sw.elapsed_us() / 1e6;
  h.stop();
  auto groups = static_cast<double>(g1 - g0);
  return {groups / secs, (groups + static_cast<double>(o1 - o0)) / secs};
}

// -- runs ---------------------------------------------------------------------------------------

void print_floor(int children, const std::vector<double>& raws) {
  bench::json_line line{"restart"};
  line.add("strategy", "raw_caf").add("children", children).add("impl", "caf");
  line.add("reps", raws.size());
  auto s = bench::summarize(raws);
  line.add("cycles_per_s", s.median).add("cycles_per_s_min", s.min);
  line.print();
}

void run_one_for_one(int children, int reps, const bench::options& opts) {
  bool mode = opts.wants_impl("mode");
  bool caf = opts.wants_impl("caf");
  std::vector<double> ours;
  std::vector<double> raws;
  std::vector<double> ratios;
  for (int r = 0; r < reps; ++r) {
    if (caf)
      raws.push_back(raw_floor(children, opts));
    if (mode)
      ours.push_back(one_for_one(children, opts));
    if (mode && caf)
      ratios.push_back(bench::ratio(ours.back(), raws.back()));
  }
  if (caf)
    print_floor(children, raws);
  if (!mode)
    return;
  bench::json_line line{"restart"};
  line.add("strategy", "one_for_one").add("children", children).add("impl", "mode");
  line.add("reps", ours.size());
  auto s = bench::summarize(ours);
  line.add("restarts_per_s", s.median).add("restarts_per_s_min", s.min);
  line.add("raw_caf_cycles_per_s", caf ? bench::summarize(raws).median : 0.0);
  line.add("ratio", caf ? bench::summarize(ratios).median : bench::ratio(1, 0));
  line.print();
}

void run_one_for_all(int children, int reps, const bench::options& opts) {
  bool mode = opts.wants_impl("mode");
  bool caf = opts.wants_impl("caf");
  std::vector<double> groups;
  std::vector<double> ours;
  std::vector<double> raws;
  std::vector<double> ratios;
  for (int r = 0; r < reps; ++r) {
    if (caf)
      raws.push_back(raw_floor(children, opts));
    if (mode) {
      auto g = one_for_all(children, opts);
      groups.push_back(g.groups_per_s);
      ours.push_back(g.restarts_per_s);
    }
    if (mode && caf)
      ratios.push_back(bench::ratio(ours.back(), raws.back()));
  }
  if (caf)
    print_floor(children, raws);
  if (!mode)
    return;
  bench::json_line line{"restart"};
  line.add("strategy", "one_for_all").add("children", children).add("impl", "mode");
  line.add("reps", ours.size());
  line.add("group_restarts_per_s", bench::summarize(groups).median);
  auto s = bench::summarize(ours);
  line.add("restarts_per_s", s.median).add("restarts_per_s_min", s.min);
  line.add("raw_caf_cycles_per_s", caf ? bench::summarize(raws).median : 0.0);
  line.add("ratio", caf ? bench::summarize(ratios).median : bench::ratio(1, 0));
  line.print();
}

int run(const bench::options& opts) {
  if (!opts.impl.empty() && opts.impl != "mode" && opts.impl != "caf")
    throw std::invalid_argument(
        fmt::format("option '--impl': unknown implementation '{}' (known: mode, caf)", opts.impl));
  bool ofo1 = opts.wants("restart/one_for_one-1");
  bool ofo100 = opts.wants("restart/one_for_one-100");
  bool ofa10 = opts.wants("restart/one_for_all-10");
  if (!ofo1 && !ofo100 && !ofa10)
    throw std::invalid_argument(fmt::format(
        "option '--filter': no benchmark name contains '{}' (see --help)", opts.filter));
  if (opts.quick)
    window = std::chrono::duration<double>{0.1};
  // The crash and restart lines would be the benchmark: silence them.
  mode::get_logger("mode.services")->set_level(spdlog::level::off);
  mode::get_logger("mode.supervisors")->set_level(spdlog::level::off);
  auto meta = bench::meta_line("restart_bench", opts);
  meta.add("caf_version", CAF_VERSION).add("window_s", window.count());
  meta.print();
  {
    caf::actor_system_config cfg;
    caf::actor_system sys{bench::configure(cfg, opts)};
    bench::json_line{"system"}.add("scheduler_threads", sys.scheduler().num_workers()).print();
  }
  int reps = opts.repetitions(5, 1);
  if (ofo1)
    run_one_for_one(1, reps, opts);
  if (ofo100)
    run_one_for_one(100, reps, opts);
  if (ofa10)
    run_one_for_all(10, reps, opts);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return bench::bench_main(
      argc, argv, "restart_bench",
      "Prints JSON lines: supervisor restarts per second vs the raw-CAF floor.\n"
      "Benchmarks: restart/one_for_one-1 restart/one_for_one-100 "
      "restart/one_for_all-10\n"
      "Implementations (--impl): mode, caf\n",
      run);
}
