// Restart throughput of mode's supervisors against raw-CAF floors, in one run.
//
// mode:    a OneForOneSupervisor (restart limit off) holding K children that crash
//          at every start, each case with one way of crashing:
//            crash   on_started calls crash("boom")
//            throw   on_started throws std::runtime_error (what most users write)
//            task    a background task throws std::runtime_error
//          Every start of a child is one real restart. OneForAllSupervisor with 10
//          children, the last of which calls crash() right after start: every crash
//          restarts the group (9 in place, the crashed one on a fresh actor).
//          One case runs with logging set up as docs/logging.md tells users
//          (setup_logging at "critical", which hides the crash and restart lines);
//          the others turn mode's loggers off. One case runs the throwing child
//          twice per round, as is and with the Worker's web server up and /metrics
//          scraped every 100 ms (150x Prometheus' default rate), and prints the
//          scraped rate against the unscraped one (`scraped_ratio`): the cost of
//          counting and serving metrics on the restart path.
// caf:     the least a supervisor on CAF does per restart: spawn + monitor + a start
//          message + the child fails + down_msg + respawn, K children in flight. Two
//          floors: the child calls quit(error) (`quit`, the floor of crash()), or it
//          throws std::runtime_error from its handler and an exception handler keeps
//          what() in the exit reason (`throw`, the floor of a throwing child).
//
// Every measurement runs on a fresh actor system for a window of 1 s (0.1 s with
// --quick) after a warm-up of a quarter of that. mode and its floor alternate for
// --reps rounds (default 5), so a burst of load from elsewhere hits both; each line
// gives medians, and `ratio` is the median of the per-round ratios mode / floor (same
// number of children; for one_for_all: child restarts per second against the floor
// for 10).
//   {"bench":"restart","case":"restart/one_for_one_throw-1","strategy":"one_for_one",
//    "child":"throw","logging":"off","children":1,"impl":"mode","restarts_per_s":...,
//    "floor":"throw","raw_caf_cycles_per_s":...,"ratio":...}
//   {"bench":"restart","case":"restart/one_for_one_throw-1","strategy":"raw_caf",
//    "floor":"throw","children":1,"impl":"caf","cycles_per_s":...}
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <caf/all.hpp>

#include "bench_support.hpp"
#include "mode/graph.hpp"
#include "mode/logging.hpp"
#include "mode/service_handle.hpp"
#include "mode/supervisors.hpp"
#include "mode/web_server.hpp"

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

/// How a child fails at every start.
enum class child_kind {
  crash,   ///< on_started calls crash("boom")
  thrown,  ///< on_started throws std::runtime_error
  task,    ///< a background task throws std::runtime_error
};

const char* to_string(child_kind k) {
  switch (k) {
    case child_kind::crash:
      return "crash";
    case child_kind::thrown:
      return "throw";
    case child_kind::task:
      return "task";
  }
  return "?";
}

/// How the raw-CAF child fails.
enum class floor_kind {
  quit,    ///< quit(error)
  thrown,  ///< throws from its handler; an exception handler keeps what()
};

const char* to_string(floor_kind k) {
  return k == floor_kind::quit ? "quit" : "throw";
}

// -- the raw-CAF floors ---------------------------------------------------------------------

caf::behavior raw_quitting_child(caf::event_based_actor* self) {
  return {
      [self](go_atom) { self->quit(caf::make_error(caf::sec::runtime_error)); },
  };
}

caf::behavior raw_throwing_child(caf::event_based_actor* self) {
  // What a CAF user writes to keep the text: CAF's default handler drops it.
  self->set_exception_handler([](caf::scheduled_actor*, std::exception_ptr& eptr) -> caf::error {
    try {
      std::rethrow_exception(eptr);
    } catch (const std::exception& e) {
      return caf::make_error(caf::sec::runtime_error, std::string{e.what()});
    } catch (...) {
      return caf::make_error(caf::sec::runtime_error);
    }
  });
  return {
      [](go_atom) { throw std::runtime_error("boom"); },
  };
}

caf::behavior raw_supervisor(caf::event_based_actor* self, int children, floor_kind kind,
                             counter* cycles, std::atomic<bool>* running) {
  auto respawn = [self, kind] {
    auto child = kind == floor_kind::quit ? self->spawn(raw_quitting_child)
                                          : self->spawn(raw_throwing_child);
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

double raw_floor(int children, floor_kind kind, const bench::options& opts) {
  counter cycles{0};
  std::atomic<bool> running{true};
  caf::actor_system_config cfg;
  caf::actor_system sys{bench::configure(cfg, opts)};
  auto sup = sys.spawn(raw_supervisor, children, kind, &cycles, &running);
  auto rate = rate_of(cycles);
  running = false;
  return rate;
}

// -- mode -------------------------------------------------------------------------------------

/// Fails right after it started, as `kind` says; counts its starts.
class Crasher : public mode::Service {
 public:
  Crasher(counter* starts, child_kind kind) : starts_(starts), kind_(kind) {
    if (kind_ == child_kind::task)
      add_task(&Crasher::work, "Crasher.work");
  }
  mode::task<void> on_started() override {
    if (kind_ == child_kind::task)
      co_return;
    starts_->fetch_add(1, std::memory_order_relaxed);
    if (kind_ == child_kind::thrown)
      throw std::runtime_error("boom");
    crash("boom");
  }

 private:
  mode::task<void> work() {
    starts_->fetch_add(1, std::memory_order_relaxed);
    throw std::runtime_error("boom");
    co_return;
  }

  counter* starts_;
  child_kind kind_;
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

/// Sets up mode's logging for one measurement: off, or as docs/logging.md tells users.
void apply_logging(bool as_documented) {
  if (as_documented) {
    mode::LoggingOptions logging;
    logging.log_level = "critical";  // hides "Crashed reason=..." and "Restarting dead..."
    mode::setup_logging(logging);
    return;
  }
  mode::get_logger("mode.services")->set_level(spdlog::level::off);
  mode::get_logger("mode.supervisors")->set_level(spdlog::level::off);
}

/// A Prometheus stand-in: GETs /metrics of `server` every `every` until destroyed, and
/// fails the benchmark if a scrape does not answer 200 (a measurement of a broken endpoint
/// would say nothing).
class scraper {
 public:
  scraper(const mode::WebServer& server, std::chrono::milliseconds every)
      : thread_([this, port = server.port(), every](std::stop_token stop) {
          httplib::Client client{"127.0.0.1", port};
          client.set_read_timeout(5, 0);
          while (!stop.stop_requested()) {
            auto res = client.Get("/metrics");
            if (!res || res->status != 200 ||
                res->body.find("mode_service_restarts_total") == std::string::npos)
              failed_ = true;
            else
              ++scrapes_;
            std::this_thread::sleep_for(every);
          }
        }) {}

  ~scraper() { thread_.request_stop(); }

  scraper(const scraper&) = delete;
  scraper& operator=(const scraper&) = delete;

  /// Scrapes that got metrics, and whether any did not (read after the thread ended).
  int scrapes() const { return scrapes_.load(); }
  bool failed() const { return failed_.load(); }

 private:
  std::atomic<int> scrapes_{0};
  std::atomic<bool> failed_{false};
  std::jthread thread_;  // last: it stops before the counters go
};

double one_for_one(int children, child_kind kind, const bench::options& opts,
                   bool scraped = false) {
  counter starts{0};
  caf::actor_system_config cfg;
  caf::actor_system sys{bench::configure(cfg, opts)};
  auto sup = std::make_shared<mode::OneForOneSupervisor>(unlimited());
  for (int i = 0; i < children; ++i)
    sup->add(std::make_shared<Crasher>(&starts, kind));
  mode::ServiceHandle h{sys, sup};
  h.start();
  double rate = 0;
  if (scraped) {
    mode::WebServer web{"127.0.0.1", 0, [&h] {
                          return mode::inspect(h);
                        }};
    int scrapes = 0;
    {
      scraper prometheus{web, std::chrono::milliseconds{100}};
      rate = rate_of(starts);
      scrapes = prometheus.scrapes();
      if (prometheus.failed())
        throw std::runtime_error("restart_bench: a /metrics scrape failed");
    }
    if (scrapes == 0)
      throw std::runtime_error("restart_bench: /metrics was never scraped in the window");
  } else {
    rate = rate_of(starts);
  }
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
  sup->add(std::make_shared<Crasher>(&other_starts, child_kind::crash));
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

// -- cases ------------------------------------------------------------------------------------

/// One benchmark: a supervisor setup and the raw-CAF floor it is compared with.
struct restart_case {
  std::string name;
  bool one_for_all = false;
  int children = 1;
  child_kind child = child_kind::crash;
  floor_kind floor = floor_kind::quit;
  bool documented_logging = false;
  /// Also run with the web server up and /metrics scraped, and compare the two.
  bool scraped = false;
};

std::vector<restart_case> all_cases() {
  return {
      {"restart/one_for_one-1", false, 1, child_kind::crash, floor_kind::quit, false},
      {"restart/one_for_one-100", false, 100, child_kind::crash, floor_kind::quit, false},
      {"restart/one_for_one_throw-1", false, 1, child_kind::thrown, floor_kind::thrown, false},
      {"restart/one_for_one_throw-100", false, 100, child_kind::thrown, floor_kind::thrown, false},
      {"restart/one_for_one_task-1", false, 1, child_kind::task, floor_kind::thrown, false},
      {"restart/one_for_one_throw_logging-1", false, 1, child_kind::thrown, floor_kind::thrown,
       true},
      {"restart/one_for_all-10", true, 10, child_kind::crash, floor_kind::quit, false},
      {"restart/one_for_one_throw_scraped-1", false, 1, child_kind::thrown, floor_kind::thrown,
       false, true},
  };
}

void print_floor(const restart_case& c, const std::vector<double>& raws) {
  bench::json_line line{"restart"};
  line.add("case", c.name).add("strategy", "raw_caf").add("floor", to_string(c.floor));
  line.add("children", c.children).add("impl", "caf").add("reps", raws.size());
  auto s = bench::summarize(raws);
  line.add("cycles_per_s", s.median).add("cycles_per_s_min", s.min);
  line.print();
}

void run_case(const restart_case& c, int reps, const bench::options& opts) {
  bool mode = opts.wants_impl("mode");
  bool caf = opts.wants_impl("caf");
  std::vector<double> groups;
  std::vector<double> ours;
  std::vector<double> raws;
  std::vector<double> ratios;
  std::vector<double> scraped;
  std::vector<double> scraped_ratios;
  for (int r = 0; r < reps; ++r) {
    if (caf)
      raws.push_back(raw_floor(c.children, c.floor, opts));
    if (mode) {
      apply_logging(c.documented_logging);
      if (c.one_for_all) {
        auto g = one_for_all(c.children, opts);
        groups.push_back(g.groups_per_s);
        ours.push_back(g.restarts_per_s);
      } else {
        ours.push_back(one_for_one(c.children, c.child, opts));
      }
      if (c.scraped) {
        scraped.push_back(one_for_one(c.children, c.child, opts, true));
        scraped_ratios.push_back(bench::ratio(scraped.back(), ours.back()));
      }
    }
    if (mode && caf)
      ratios.push_back(bench::ratio(ours.back(), raws.back()));
  }
  if (caf)
    print_floor(c, raws);
  if (!mode)
    return;
  bench::json_line line{"restart"};
  line.add("case", c.name).add("strategy", c.one_for_all ? "one_for_all" : "one_for_one");
  line.add("child", to_string(c.child));
  line.add("logging", c.documented_logging ? "setup_logging(critical)" : "off");
  line.add("children", c.children).add("impl", "mode").add("reps", ours.size());
  if (c.one_for_all)
    line.add("group_restarts_per_s", bench::summarize(groups).median);
  auto s = bench::summarize(ours);
  line.add("restarts_per_s", s.median).add("restarts_per_s_min", s.min);
  line.add("floor", to_string(c.floor));
  line.add("raw_caf_cycles_per_s", caf ? bench::summarize(raws).median : 0.0);
  line.add("ratio", caf ? bench::summarize(ratios).median : bench::ratio(1, 0));
  if (c.scraped) {
    line.add("scraped_restarts_per_s", bench::summarize(scraped).median);
    line.add("scrape_every_ms", 100);
    line.add("scraped_ratio", bench::summarize(scraped_ratios).median);
  }
  line.print();
}

int run(const bench::options& opts) {
  if (!opts.impl.empty() && opts.impl != "mode" && opts.impl != "caf")
    throw std::invalid_argument(
        fmt::format("option '--impl': unknown implementation '{}' (known: mode, caf)", opts.impl));
  std::vector<restart_case> cases;
  for (auto& c : all_cases())
    if (opts.wants(c.name))
      cases.push_back(c);
  if (cases.empty())
    throw std::invalid_argument(fmt::format(
        "option '--filter': no benchmark name contains '{}' (see --help)", opts.filter));
  if (opts.quick)
    window = std::chrono::duration<double>{0.1};
  auto meta = bench::meta_line("restart_bench", opts);
  meta.add("caf_version", CAF_VERSION).add("window_s", window.count());
  meta.print();
  {
    caf::actor_system_config cfg;
    caf::actor_system sys{bench::configure(cfg, opts)};
    bench::json_line{"system"}.add("scheduler_threads", sys.scheduler().num_workers()).print();
  }
  int reps = opts.repetitions(5, 1);
  for (auto& c : cases)
    run_case(c, reps, opts);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return bench::bench_main(argc, argv, "restart_bench",
                           "Prints JSON lines: supervisor restarts per second vs raw-CAF floors.\n"
                           "Benchmarks: restart/one_for_one-1 restart/one_for_one-100\n"
                           "            restart/one_for_one_throw-1 restart/one_for_one_throw-100\n"
                           "            restart/one_for_one_task-1\n"
                           "            restart/one_for_one_throw_logging-1\n"
                           "            restart/one_for_all-10\n"
                           "            restart/one_for_one_throw_scraped-1\n"
                           "Implementations (--impl): mode, caf\n",
                           run);
}
