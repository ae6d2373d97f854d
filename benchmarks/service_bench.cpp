// service_bench: what a mode-cpp Service costs against raw CAF doing the same work.
//
//   start_stop/<case>  start and stop of a service tree (a root with N children, or
//                      10 x 10 x 100), through ServiceHandle::start() and stop(), in
//                      microseconds per service; baselines: raw event-based actors that
//                      spawn their children and answer a start request, then a stop
//                      request each, quit, and are awaited through down messages,
//                      once in order (as mode starts children) and once fanned out.
//   memory/<case>      resident bytes per started idle service (with one sleeping
//                      background task, or none) against an idle raw actor.
//
// Output: JSON lines on stdout (see docs/benchmarks.md). Options: --quick, --filter
// NAME, --impl NAME, --reps N, --threads N.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "bench_support.hpp"
#include "mode/logging.hpp"
#include "mode/service.hpp"
#include "mode/service_handle.hpp"

namespace {

using namespace std::chrono_literals;
namespace bench = mode::bench;

// -- tree shapes ------------------------------------------------------------------------

/// A tree below one root: fanout {N} is a root with N children, {10, 10, 100} a root
/// with 10 children with 10 children with 100 children each.
struct tree_case {
  std::string name;
  std::vector<int> fanout;
  /// Also measure caf-fanout (skipped at 100,000: CAF 0.17.6 grows superlinearly with
  /// one parent's pending requests, and caf-ordered is the like-for-like baseline).
  bool fanout_baseline = true;
};

/// Services (or actors) in a tree, the root included.
std::size_t tree_size(const std::vector<int>& fanout) {
  std::size_t total = 1;
  std::size_t level = 1;
  for (int f : fanout) {
    level *= static_cast<std::size_t>(f);
    total += level;
  }
  return total;
}

std::vector<int> rest_of(const std::vector<int>& fanout) {
  return {fanout.begin() + 1, fanout.end()};
}

// -- the mode side ------------------------------------------------------------------------

/// How many services of a tree ran on_started and on_shutdown: checked after every
/// cycle, so that a figure never comes from a tree that did less than its work.
struct hook_counts {
  std::atomic<std::size_t> started{0};
  std::atomic<std::size_t> shutdown{0};
};

/// A service with no work of its own, or with one background task that sleeps (as a
/// typical service waits for work); `begun` counts the tasks that began.
class Node : public mode::Service {
 public:
  Node(hook_counts* counts, std::atomic<std::size_t>* begun) : counts_(counts) {
    if (begun != nullptr)
      add_task("idle", [this, begun] { return idle(*begun); });
  }
  mode::task<void> on_started() override {
    if (counts_ != nullptr)
      counts_->started.fetch_add(1, std::memory_order_relaxed);
    co_return;
  }
  mode::task<void> on_shutdown() override {
    if (counts_ != nullptr)
      counts_->shutdown.fetch_add(1, std::memory_order_relaxed);
    co_return;
  }

 private:
  mode::task<void> idle(std::atomic<std::size_t>& begun) {
    begun.fetch_add(1, std::memory_order_relaxed);
    while (!should_stop())
      co_await sleep(3600.0);
  }

  hook_counts* counts_;
};

std::shared_ptr<mode::Service> build_tree(const std::vector<int>& fanout, hook_counts* counts,
                                          std::atomic<std::size_t>* begun) {
  auto node = std::make_shared<Node>(counts, begun);
  if (!fanout.empty()) {
    auto rest = rest_of(fanout);
    for (int i = 0; i < fanout.front(); ++i)
      node->add_dependency(build_tree(rest, counts, begun));
  }
  return node;
}

/// Microseconds spent in each phase of one start/stop cycle.
struct cycle_times {
  double build = 0;     ///< constructing the Service objects (mode only)
  double start = 0;     ///< spawn + start until the whole tree answered
  double stop = 0;      ///< stop until the whole tree answered (raw: and its actors quit)
  double teardown = 0;  ///< dropping the handles until no actor is left running
  [[nodiscard]] double total() const { return start + stop + teardown; }
};

cycle_times mode_cycle(caf::actor_system& sys, const std::vector<int>& fanout) {
  cycle_times t;
  hook_counts counts;
  std::shared_ptr<mode::Service> root;
  t.build = bench::time_us([&] { root = build_tree(fanout, &counts, nullptr); });
  std::optional<mode::ServiceHandle> handle;
  t.start = bench::time_us([&] {
    handle.emplace(sys, root);
    handle->start();
  });
  t.stop = bench::time_us([&] { handle->stop(); });
  if (auto st = handle->state(); st != mode::ServiceState::shutdown)
    throw std::runtime_error(
        fmt::format("mode tree ended in state '{}', not 'shutdown'", mode::to_string(st)));
  if (auto n = tree_size(fanout); counts.started != n || counts.shutdown != n)
    throw std::runtime_error(fmt::format("mode tree of {}: {} services started, {} shut down", n,
                                         counts.started.load(), counts.shutdown.load()));
  t.teardown = bench::time_us([&] {
    handle.reset();
    root.reset();
    bench::await_running_at_most(sys, 0);
  });
  return t;
}

// -- the raw CAF side ------------------------------------------------------------------------

using b_start_atom = caf::atom_constant<caf::atom("b_start")>;
using b_stop_atom = caf::atom_constant<caf::atom("b_stop")>;
using b_tick_atom = caf::atom_constant<caf::atom("b_tick")>;

struct raw_node_state {
  std::vector<caf::actor> children;
  std::size_t replies = 0;
  std::size_t downs = 0;
  bool stopping = false;
  caf::response_promise rp;
};

using raw_node_actor = caf::stateful_actor<raw_node_state>;

void raw_finish_stop(raw_node_actor* self) {
  auto& st = self->state;
  if (st.stopping && st.replies == st.children.size() && st.downs == st.children.size()) {
    st.rp.deliver(caf::unit);
    self->quit();
  }
}

caf::behavior raw_node(raw_node_actor* self, std::vector<int> fanout, bool ordered);

/// Spawns a child and asks it to start; in order, the next child is spawned once
/// this one answered (`count` children in all).
void raw_spawn_and_start(raw_node_actor* self, std::vector<int> rest, bool ordered,
                         std::size_t count) {
  auto child = self->spawn(raw_node, rest, ordered);
  self->monitor(child);
  self->state.children.push_back(child);
  self->request(child, caf::infinite, b_start_atom::value).then([self, rest, ordered, count] {
    auto& st = self->state;
    ++st.replies;
    if (ordered && st.children.size() < count)
      raw_spawn_and_start(self, rest, ordered, count);
    if (st.replies == count)
      st.rp.deliver(caf::unit);
  });
}

/// Asks child number `index` to stop; in order (last child first, as mode), the next
/// one is asked once this one answered.
void raw_stop_child(raw_node_actor* self, std::size_t index, bool ordered) {
  self->request(self->state.children[index], caf::infinite, b_stop_atom::value)
      .then([self, index, ordered] {
        ++self->state.replies;
        if (ordered && index > 0)
          raw_stop_child(self, index - 1, ordered);
        raw_finish_stop(self);
      });
}

/// A node of the raw tree: on start it spawns and starts its children, on stop it
/// stops them, waits for their down messages, answers and quits.
caf::behavior raw_node(raw_node_actor* self, std::vector<int> fanout, bool ordered) {
  self->set_down_handler([self](caf::down_msg&) {
    ++self->state.downs;
    raw_finish_stop(self);
  });
  return {
      [self, fanout, ordered](b_start_atom) -> caf::result<void> {
        if (fanout.empty())
          return caf::unit;
        auto& st = self->state;
        auto count = static_cast<std::size_t>(fanout.front());
        st.rp = self->make_response_promise();
        st.replies = 0;
        auto rest = rest_of(fanout);
        if (ordered) {
          raw_spawn_and_start(self, rest, ordered, count);
        } else {
          for (std::size_t i = 0; i < count; ++i)
            raw_spawn_and_start(self, rest, ordered, count);
        }
        return caf::delegated<void>{};
      },
      [self, ordered](b_stop_atom) -> caf::result<void> {
        auto& st = self->state;
        st.rp = self->make_response_promise();
        st.stopping = true;
        st.replies = 0;
        if (st.children.empty()) {
          raw_finish_stop(self);
          return caf::delegated<void>{};
        }
        if (ordered) {
          raw_stop_child(self, st.children.size() - 1, ordered);
        } else {
          for (std::size_t i = 0; i < st.children.size(); ++i)
            raw_stop_child(self, i, ordered);
        }
        return caf::delegated<void>{};
      },
  };
}

void expect_ok(const caf::error& err, std::string_view what) {
  if (err)
    throw std::runtime_error(fmt::format("raw {} failed: {}", what, caf::to_string(err)));
}

cycle_times raw_cycle(caf::actor_system& sys, const std::vector<int>& fanout, bool ordered) {
  cycle_times t;
  caf::scoped_actor self{sys};
  auto running_before = sys.registry().running();  // the scoped actor counts
  caf::actor root;
  caf::error err;
  t.start = bench::time_us([&] {
    root = sys.spawn(raw_node, fanout, ordered);
    self->request(root, caf::infinite, b_start_atom::value)
        .receive([] {}, [&](caf::error& e) { err = std::move(e); });
  });
  expect_ok(err, "start");
  t.stop = bench::time_us([&] {
    self->monitor(root);
    self->request(root, caf::infinite, b_stop_atom::value)
        .receive([] {}, [&](caf::error& e) { err = std::move(e); });
    self->receive([](caf::down_msg&) {});
  });
  expect_ok(err, "stop");
  t.teardown = bench::time_us([&] {
    root = nullptr;
    bench::await_running_at_most(sys, running_before);
  });
  return t;
}

// -- start_stop ------------------------------------------------------------------------------

struct impl_samples {
  explicit impl_samples(std::string name) : impl(std::move(name)) {}
  std::string impl;
  std::vector<double> build, start, stop, teardown, total;
  void add(const cycle_times& t) {
    build.push_back(t.build);
    start.push_back(t.start);
    stop.push_back(t.stop);
    teardown.push_back(t.teardown);
    total.push_back(t.total());
  }
};

void print_impl(const tree_case& c, const impl_samples& s, std::size_t services) {
  bench::json_line line{"start_stop"};
  line.add("case", c.name).add("impl", s.impl).add("services", services);
  line.add("reps", s.total.size());
  auto n = static_cast<double>(services);
  if (s.impl == "mode")
    bench::add_summary(line, "build_us_per_service", bench::summarize(s.build), n);
  bench::add_summary(line, "start_us_per_service", bench::summarize(s.start), n);
  bench::add_summary(line, "stop_us_per_service", bench::summarize(s.stop), n);
  bench::add_summary(line, "teardown_us_per_service", bench::summarize(s.teardown), n);
  bench::add_summary(line, "total_us_per_service", bench::summarize(s.total), n);
  line.add("total_ms_median", bench::summarize(s.total).median / 1000.0);
  line.print();
}

void print_ratio(const tree_case& c, const impl_samples& ours, const impl_samples& raw) {
  bench::json_line line{"start_stop_ratio"};
  line.add("case", c.name).add("impl", ours.impl).add("baseline", raw.impl);
  for (auto [key, a, b] :
       {std::tuple{"start", &ours.start, &raw.start}, std::tuple{"stop", &ours.stop, &raw.stop},
        std::tuple{"total", &ours.total, &raw.total}}) {
    line.add(key, bench::ratio(bench::summarize(*a).median, bench::summarize(*b).median));
  }
  line.add("total_of_mins",
           bench::ratio(bench::summarize(ours.total).min, bench::summarize(raw.total).min));
  line.print();
}

void run_start_stop(caf::actor_system& sys, const tree_case& c, int reps,
                    const bench::options& opts) {
  struct runner {
    impl_samples samples;
    std::function<cycle_times()> cycle;
  };
  std::vector<runner> runners;
  auto add = [&](std::string name, std::function<cycle_times()> cycle) {
    if (opts.wants_impl(name))
      runners.push_back({impl_samples{std::move(name)}, std::move(cycle)});
  };
  add("mode", [&] { return mode_cycle(sys, c.fanout); });
  add("caf-ordered", [&] { return raw_cycle(sys, c.fanout, true); });
  if (c.fanout_baseline)
    add("caf-fanout", [&] { return raw_cycle(sys, c.fanout, false); });
  // One untimed cycle each first: the first one pays for one-off allocations.
  for (auto& r : runners)
    r.cycle();
  // Interleaved, so that a change in the machine's load hits all of them alike.
  for (int i = 0; i < reps; ++i)
    for (auto& r : runners)
      r.samples.add(r.cycle());
  auto services = tree_size(c.fanout);
  for (auto& r : runners)
    print_impl(c, r.samples, services);
  if (runners.size() < 2 || runners.front().samples.impl != "mode")
    return;
  for (std::size_t i = 1; i < runners.size(); ++i)
    print_ratio(c, runners.front().samples, runners[i].samples);
}

// -- memory -------------------------------------------------------------------------------------

/// RSS growth per service for `n` started services below one root (n + 1 in all),
/// each with a sleeping background task if `with_task`. Runs in a fresh system.
double mode_bytes_per_service(std::size_t n, bool with_task, const bench::options& opts) {
  caf::actor_system_config cfg;
  caf::actor_system sys{bench::configure(cfg, opts)};
  std::atomic<std::size_t> begun{0};
  auto* counter = with_task ? &begun : nullptr;
  {
    // Warm-up: the first service creates the timer relay and the logger.
    mode::ServiceHandle warm{sys, std::make_shared<Node>(nullptr, counter)};
    warm.start();
    warm.stop();
  }
  bench::await_running_at_most(sys, 0);
  begun = 0;
  bench::release_free_memory();
  auto before = bench::rss_bytes();
  auto root = build_tree({static_cast<int>(n)}, nullptr, counter);
  mode::ServiceHandle handle{sys, root};
  handle.start();
  if (with_task) {
    // Tasks begin on the turn after their service's start: wait for all of them.
    auto deadline = bench::bench_clock::now() + 60s;
    while (begun.load() < n + 1) {
      if (bench::bench_clock::now() > deadline)
        throw std::runtime_error(fmt::format("only {} of {} tasks began", begun.load(), n + 1));
      std::this_thread::sleep_for(1ms);
    }
  }
  auto after = bench::rss_bytes();
  handle.stop();
  return (static_cast<double>(after) - static_cast<double>(before)) / static_cast<double>(n + 1);
}

/// RSS growth per idle raw actor for `n` actors (each answered one request, so it is
/// initialised), each with a pending one-hour delayed message to itself if
/// `with_timer` (the raw analogue of a sleeping task). Runs in a fresh system.
double raw_bytes_per_actor(std::size_t n, bool with_timer, const bench::options& opts) {
  caf::actor_system_config cfg;
  caf::actor_system sys{bench::configure(cfg, opts)};
  auto idle = [with_timer](caf::event_based_actor* self) -> caf::behavior {
    if (with_timer)
      self->delayed_anon_send(self, 1h, b_tick_atom::value);
    return {
        [](b_start_atom) {},
        [](b_tick_atom) {},
    };
  };
  caf::scoped_actor self{sys};
  auto running_before = sys.registry().running();
  {
    auto warm = sys.spawn(idle);
    self->request(warm, caf::infinite, b_start_atom::value).receive([] {}, [](caf::error&) {});
    self->send_exit(warm, caf::exit_reason::user_shutdown);
  }
  bench::await_running_at_most(sys, running_before);
  bench::release_free_memory();
  auto before = bench::rss_bytes();
  std::vector<caf::actor> actors;
  actors.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    actors.push_back(sys.spawn(idle));
  caf::error err;
  for (auto& a : actors)
    self->request(a, caf::infinite, b_start_atom::value)
        .receive([] {}, [&](caf::error& e) { err = std::move(e); });
  expect_ok(err, "idle actor request");
  auto after = bench::rss_bytes();
  for (auto& a : actors)
    self->send_exit(a, caf::exit_reason::user_shutdown);
  return (static_cast<double>(after) - static_cast<double>(before)) / static_cast<double>(n);
}

struct memory_variant {
  std::string impl;
  std::size_t count;
  std::vector<double> samples;
};

void print_memory(const std::string& case_name, const memory_variant& v) {
  bench::json_line line{"memory"};
  line.add("case", case_name).add("impl", v.impl).add("count", v.count);
  line.add("reps", v.samples.size());
  auto s = bench::summarize(v.samples);
  bench::add_summary(line, "bytes_per", s);
  line.add("bytes_per_max", s.max);
  line.print();
}

void run_memory(const std::string& case_name, std::size_t n, bool with_task, int reps,
                const bench::options& opts) {
  struct runner {
    memory_variant variant;
    std::function<double()> measure;
  };
  std::vector<runner> runners;
  auto add = [&](std::string name, std::size_t count, std::function<double()> measure) {
    if (opts.wants_impl(name))
      runners.push_back({{std::move(name), count, {}}, std::move(measure)});
  };
  add("mode", n + 1, [=, &opts] { return mode_bytes_per_service(n, with_task, opts); });
  add("caf-idle", n, [=, &opts] { return raw_bytes_per_actor(n, false, opts); });
  // A pending delayed message per actor: the raw analogue of a sleeping task.
  if (with_task)
    add("caf-idle-timer", n, [=, &opts] { return raw_bytes_per_actor(n, true, opts); });
  for (int i = 0; i < reps; ++i)
    for (auto& r : runners)
      r.variant.samples.push_back(bench::run_isolated(r.measure));
  for (auto& r : runners)
    print_memory(case_name, r.variant);
  if (runners.size() < 2 || runners.front().variant.impl != "mode")
    return;
  auto ours = bench::summarize(runners.front().variant.samples).median;
  for (std::size_t i = 1; i < runners.size(); ++i) {
    bench::json_line line{"memory_ratio"};
    line.add("case", case_name).add("impl", "mode").add("baseline", runners[i].variant.impl);
    line.add("ratio", bench::ratio(ours, bench::summarize(runners[i].variant.samples).median));
    line.print();
  }
}

std::vector<tree_case> start_stop_cases(bool quick) {
  if (quick)
    return {{"start_stop/flat-100", {100}},
            {"start_stop/flat-1000", {1000}},
            {"start_stop/tree-2x5x10", {2, 5, 10}}};
  return {{"start_stop/flat-1000", {1000}},
          {"start_stop/flat-10000", {10000}},
          {"start_stop/flat-100000", {100000}, false},
          {"start_stop/tree-10x10x100", {10, 10, 100}}};
}

/// The implementations this program measures (for --impl).
constexpr std::array<std::string_view, 5> known_impls{"mode", "caf-ordered", "caf-fanout",
                                                      "caf-idle", "caf-idle-timer"};

int run(const bench::options& opts) {
  if (!opts.impl.empty() &&
      std::find(known_impls.begin(), known_impls.end(), opts.impl) == known_impls.end())
    throw std::invalid_argument(fmt::format(
        "option '--impl': unknown implementation '{}' (known: mode, caf-ordered, caf-fanout, "
        "caf-idle, caf-idle-timer)",
        opts.impl));
  bool any = opts.wants("memory/with-task") || opts.wants("memory/no-task");
  for (auto& c : start_stop_cases(opts.quick))
    any = any || opts.wants(c.name);
  if (!any)
    throw std::invalid_argument(fmt::format(
        "option '--filter': no benchmark name contains '{}' (see --help)", opts.filter));

  // Quiet: the Starting.../Stopping... lines of 10,000 services would be the benchmark.
  mode::get_logger("mode.services")->set_level(spdlog::level::warn);
  auto meta = bench::meta_line("service_bench", opts);
  meta.add("caf_version", CAF_VERSION);
  meta.print();

  // Memory first, each measurement in a forked child with a fresh heap: fork() needs a
  // process with no other threads, i.e. no actor system alive yet.
  std::size_t mem_n = opts.quick ? 1000 : 10000;
  int mem_reps = opts.repetitions(3, 1);
  if (opts.wants("memory/with-task"))
    run_memory("memory/with-task", mem_n, true, mem_reps, opts);
  if (opts.wants("memory/no-task"))
    run_memory("memory/no-task", mem_n, false, mem_reps, opts);

  auto cases = start_stop_cases(opts.quick);
  std::erase_if(cases, [&](const tree_case& c) { return !opts.wants(c.name); });
  if (cases.empty())
    return 0;
  caf::actor_system_config cfg;
  caf::actor_system sys{bench::configure(cfg, opts)};
  bench::json_line{"system"}.add("scheduler_threads", sys.scheduler().num_workers()).print();
  int reps = opts.repetitions(5, 2);
  for (auto& c : cases)
    run_start_stop(sys, c, reps, opts);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return bench::bench_main(
      argc, argv, "service_bench",
      "Prints JSON lines: start/stop cost and memory of mode Services vs raw CAF.\n"
      "Benchmarks: memory/with-task memory/no-task start_stop/flat-1000\n"
      "            start_stop/flat-10000 start_stop/flat-100000 start_stop/tree-10x10x100\n",
      run);
}
