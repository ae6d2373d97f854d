// Remote restarts: a supervisor on node a restarting a child on node b (another process,
// on loopback), against raw CAF doing the same work over the same kind of connection, in
// one run.
//
// mode:  a OneForOneSupervisor (restart limit off) on node a holds a RemoteChild of type
//        "Crasher" on node b, whose on_started throws std::runtime_error: every start is
//        one remote restart (spawn on b, start, the crash travels back with its chain,
//        down, the supervisor restarts the RemoteChild on a fresh actor). Logging is
//        set up as docs/logging.md says, at "critical" (the crash lines hidden).
// caf:   the least a remote supervisor on CAF does per restart: ask a spawner actor
//        published on b for a child, monitor it, tell it to go, it quits with an error,
//        the down_msg arrives; one child in flight, as in the mode case.
//
// remote/signal: node a sends N ints on a ClusterSignal<int> that node b has a receiver
//        for, as fast as it can, until b counted all N; against raw CAF sending the same N
//        ints to a remote group (b's local group, published; one member counting).
//
// Node b runs in a child process forked before any actor system exists; it is ended at
// the end of the run. Each round measures both for a window of 1 s (0.1 s with
// --quick) after a warm-up of a quarter of that; --reps rounds (default 5). Lines:
//   {"bench":"remote","case":"remote/restart-1","impl":"mode","restarts_per_s":...,
//    "latency_us":...,"raw_caf_cycles_per_s":...,"ratio":...}
//   {"bench":"remote","case":"remote/restart-1","impl":"caf","cycles_per_s":...,
//    "latency_us":...}
//   {"bench":"remote","case":"remote/signal","impl":"mode","sends_per_s":...,
//    "raw_caf_sends_per_s":...,"ratio":...}
// latency_us is the time per restart with one child in flight (1e6 / rate).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "bench_support.hpp"
#include "mode/cluster_signal.hpp"
#include "mode/logging.hpp"
#include "mode/node.hpp"
#include "mode/remote_child.hpp"
#include "mode/service_handle.hpp"
#include "mode/supervisors.hpp"

namespace {

namespace bench = mode::bench;
using spawn_atom = caf::atom_constant<caf::atom("b_spawn")>;
using go_atom = caf::atom_constant<caf::atom("b_go")>;
using count_atom = caf::atom_constant<caf::atom("b_count")>;

std::atomic<std::uint64_t> cluster_heard{0};  // on node b
std::atomic<std::uint64_t> group_heard{0};    // on node b

std::chrono::duration<double> window{1.0};

/// Logging as docs/logging.md sets it up, at a level that hides the crash and restart
/// lines (what a user who benchmarks gets).
void quiet_logging() {
  mode::LoggingOptions logging;
  logging.log_level = "critical";
  mode::setup_logging(logging);
}

// -- node b (the child process) -------------------------------------------------------------

class Crasher : public mode::Service {
 public:
  mode::task<void> on_started() override { throw std::runtime_error("boom"); }
};

// Raw CAF's spawner: a child that quits with an error when told to go.
caf::behavior spawner(caf::event_based_actor* self, int /*unused: CAF needs an argument*/) {
  return {[self](spawn_atom) {
    return self->spawn(
        [](caf::event_based_actor* child, int) -> caf::behavior {
          return {[child](go_atom) {
            child->quit(caf::make_error(caf::sec::runtime_error, "boom"));
          }};
        },
        0);
  }};
}

// Answers how many sends b heard: (cluster signal, remote group).
caf::behavior counter(caf::event_based_actor*, int) {
  return {[](count_atom) {
    return caf::make_message(cluster_heard.load(), group_heard.load());
  }};
}

// A member of the raw remote group: counts.
caf::behavior group_member(caf::event_based_actor* self, const caf::group& group) {
  self->join(group);
  return {[](int) {
    group_heard.fetch_add(1, std::memory_order_relaxed);
  }};
}

/// Node b: publishes a mode node, the raw spawner, a counter and its local groups on
/// loopback, writes the ports to `out_fd`, and runs until SIGTERM.
[[noreturn]] void run_node_b(int out_fd, const bench::options& opts) {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  int status = 0;
  try {
    quiet_logging();
    caf::actor_system_config cfg;
    mode::NodeOptions node_opts;
    node_opts.name = "b";
    mode::configure_node(cfg, node_opts);
    caf::actor_system sys{bench::configure(cfg, opts)};
    {
      mode::Node node{sys, node_opts};
      node.register_service<Crasher>("Crasher");
      auto raw = sys.spawn(spawner, 0);
      auto raw_port = sys.middleman().publish(raw, 0, "127.0.0.1");
      if (!raw_port)
        throw std::runtime_error("cannot publish the raw spawner: " + sys.render(raw_port.error()));
      mode::ClusterSignal<int> heard{node, "bench"};
      heard.connect(
          [](const std::string&, int) { cluster_heard.fetch_add(1, std::memory_order_relaxed); });
      auto count = sys.spawn(counter, 0);
      auto count_port = sys.middleman().publish(count, 0, "127.0.0.1");
      auto member = sys.spawn(group_member, sys.groups().get_local("bench-raw"));
      auto groups_port = sys.middleman().publish_local_groups(0, "127.0.0.1");
      if (!count_port || !groups_port)
        throw std::runtime_error("cannot publish the counter or the groups");
      auto ports = fmt::format("{} {} {} {}\n", node.port(), *raw_port, *count_port, *groups_port);
      if (::write(out_fd, ports.data(), ports.size()) != static_cast<ssize_t>(ports.size()))
        throw std::runtime_error("cannot write the ports");
      ::close(out_fd);
      int sig = 0;
      sigwait(&stop, &sig);
      for (const auto& a : {raw, count, member})
        caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    }
    sys.middleman().stop();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "remote_bench node b: %s\n", e.what());
    status = 1;
  }
  std::fflush(nullptr);
  std::_Exit(status);
}

struct node_b_process {
  pid_t pid = -1;
  std::uint16_t node_port = 0;
  std::uint16_t raw_port = 0;
  std::uint16_t count_port = 0;
  std::uint16_t groups_port = 0;

  explicit node_b_process(const bench::options& opts) {
    int fds[2];
    if (::pipe(fds) != 0)
      throw std::runtime_error("pipe() failed");
    std::fflush(nullptr);
    pid = ::fork();
    if (pid < 0)
      throw std::runtime_error("fork() failed");
    if (pid == 0) {
      ::close(fds[0]);
      run_node_b(fds[1], opts);
    }
    ::close(fds[1]);
    std::string text;
    char buf[64];
    for (ssize_t n = 0; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
      text.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    unsigned p[4] = {};
    if (std::sscanf(text.c_str(), "%u %u %u %u", &p[0], &p[1], &p[2], &p[3]) != 4)
      throw std::runtime_error("node b did not start (see its error above)");
    node_port = static_cast<std::uint16_t>(p[0]);
    raw_port = static_cast<std::uint16_t>(p[1]);
    count_port = static_cast<std::uint16_t>(p[2]);
    groups_port = static_cast<std::uint16_t>(p[3]);
  }
  ~node_b_process() {
    ::kill(pid, SIGTERM);
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
  node_b_process(const node_b_process&) = delete;
  node_b_process& operator=(const node_b_process&) = delete;
};

// -- node a: the two sides of a round -------------------------------------------------------

std::atomic<std::uint64_t> mode_starts{0};

/// A RemoteChild that counts its starts: each one is a remote restart.
class CountedRemoteChild : public mode::RemoteChild {
 public:
  using RemoteChild::RemoteChild;
  mode::task<void> on_start() override {
    mode_starts.fetch_add(1, std::memory_order_relaxed);
    co_await RemoteChild::on_start();
  }
};

/// Restarts per second of `measure` over the window, after the warm-up; `count` reads
/// the number of cycles done so far.
template <class Count>
double rate(Count count) {
  std::this_thread::sleep_for(window / 4);
  auto c0 = count();
  bench::stopwatch clock;
  std::this_thread::sleep_for(window);
  auto c1 = count();
  return static_cast<double>(c1 - c0) / (clock.elapsed_us() / 1e6);
}

double mode_round(caf::actor_system& sys, const mode::RemoteNode& b) {
  mode::SupervisorOptions limits;
  limits.max_restarts = std::nullopt;
  auto sup = std::make_shared<mode::OneForOneSupervisor>(limits);
  sup->add(std::make_shared<CountedRemoteChild>(std::vector<mode::RemoteNode>{b}, "Crasher",
                                                caf::message{}));
  mode::ServiceHandle h{sys, sup};
  h.send_start();
  auto r = rate([] { return mode_starts.load(std::memory_order_relaxed); });
  h.stop();
  h.wait_until_stopped(mode::Seconds{30});
  return r;
}

double caf_round(caf::actor_system& sys, const caf::actor& spawner_proxy) {
  std::atomic<std::uint64_t> cycles{0};
  std::atomic<bool> done{false};
  std::thread loop{[&] {
    caf::scoped_actor self{sys};
    while (!done.load(std::memory_order_relaxed)) {
      caf::actor child;
      self->request(spawner_proxy, std::chrono::seconds{10}, spawn_atom::value)
          .receive([&](caf::actor& c) { child = std::move(c); },
                   [&](caf::error& err) {
                     throw std::runtime_error("raw spawn failed: " + sys.render(err));
                   });
      self->monitor(child);
      self->send(child, go_atom::value);
      self->receive([](caf::down_msg&) {});
      cycles.fetch_add(1, std::memory_order_relaxed);
    }
  }};
  auto r = rate([&] { return cycles.load(std::memory_order_relaxed); });
  done = true;
  loop.join();
  return r;
}

/// What node b heard so far: (cluster signal sends, remote group sends).
std::pair<std::uint64_t, std::uint64_t> heard_on_b(caf::actor_system& sys,
                                                   const caf::actor& counter) {
  std::pair<std::uint64_t, std::uint64_t> result;
  caf::scoped_actor self{sys};
  self->request(counter, std::chrono::seconds{10}, count_atom::value)
      .receive(
          [&](std::uint64_t c, std::uint64_t g) {
            result = {c, g};
          },
          [&](caf::error& err) {
            throw std::runtime_error("cannot ask node b: " + sys.render(err));
          });
  return result;
}

/// Sends per second: `send(i)` for i < n, until node b heard all n (`heard` reads its count).
template <class Send, class Heard>
double send_rate(std::size_t n, Send send, Heard heard) {
  auto before = heard();
  bench::stopwatch clock;
  for (std::size_t i = 0; i < n; ++i)
    send(static_cast<int>(i));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{60};
  while (heard() < before + n) {
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error(
          fmt::format("node b heard {} of {} sends within 60 s", heard() - before, n));
    std::this_thread::sleep_for(std::chrono::microseconds{200});
  }
  return static_cast<double>(n) / (clock.elapsed_us() / 1e6);
}

void print_restart_lines(const std::vector<double>& ours, const std::vector<double>& raws,
                         const std::vector<double>& ratios, bool mode, bool caf) {
  const std::string name = "remote/restart-1";
  if (caf) {
    auto s = bench::summarize(raws);
    bench::json_line line{"remote"};
    line.add("case", name).add("impl", "caf").add("floor", "quit").add("reps", raws.size());
    line.add("cycles_per_s", s.median).add("cycles_per_s_min", s.min);
    line.add("latency_us", 1e6 / s.median);
    line.print();
  }
  if (mode) {
    auto s = bench::summarize(ours);
    bench::json_line line{"remote"};
    line.add("case", name).add("impl", "mode").add("child", "throw").add("reps", ours.size());
    line.add("restarts_per_s", s.median).add("restarts_per_s_min", s.min);
    line.add("latency_us", 1e6 / s.median);
    line.add("raw_caf_cycles_per_s", caf ? bench::summarize(raws).median : 0.0);
    line.add("ratio", caf ? bench::summarize(ratios).median : bench::ratio(1, 0));
    line.print();
  }
}

void print_signal_lines(const std::vector<double>& ours, const std::vector<double>& raws,
                        const std::vector<double>& ratios, std::size_t n) {
  const std::string name = "remote/signal";
  if (!raws.empty()) {
    bench::json_line line{"remote"};
    line.add("case", name).add("impl", "caf").add("transport", "remote_group");
    line.add("sends", n).add("reps", raws.size());
    line.add("sends_per_s", bench::summarize(raws).median);
    line.print();
  }
  if (!ours.empty()) {
    bench::json_line line{"remote"};
    line.add("case", name).add("impl", "mode").add("sends", n).add("reps", ours.size());
    line.add("sends_per_s", bench::summarize(ours).median);
    line.add("raw_caf_sends_per_s", raws.empty() ? 0.0 : bench::summarize(raws).median);
    line.add("ratio", ratios.empty() ? bench::ratio(1, 0) : bench::summarize(ratios).median);
    line.print();
  }
}

int run(const bench::options& opts) {
  if (!opts.impl.empty() && opts.impl != "mode" && opts.impl != "caf")
    throw std::invalid_argument(
        fmt::format("option '--impl': unknown implementation '{}' (known: mode, caf)", opts.impl));
  bool restarts = opts.wants("remote/restart-1");
  bool signals = opts.wants("remote/signal");
  if (!restarts && !signals)
    throw std::invalid_argument(fmt::format(
        "option '--filter': no benchmark name contains '{}' (see --help)", opts.filter));
  if (opts.quick)
    window = std::chrono::duration<double>{0.1};
  auto meta = bench::meta_line("remote_bench", opts);
  meta.add("caf_version", CAF_VERSION).add("window_s", window.count());
  meta.print();
  node_b_process b{opts};  // before any thread of this process starts
  quiet_logging();
  caf::actor_system_config cfg;
  mode::NodeOptions node_opts;
  node_opts.name = "a";
  mode::configure_node(cfg, node_opts);
  caf::actor_system sys{bench::configure(cfg, opts)};
  bench::json_line{"system"}.add("scheduler_threads", sys.scheduler().num_workers()).print();
  std::vector<double> ours;
  std::vector<double> raws;
  std::vector<double> ratios;
  std::vector<double> sig_ours;
  std::vector<double> sig_raws;
  std::vector<double> sig_ratios;
  bool mode = opts.wants_impl("mode");
  bool caf = opts.wants_impl("caf");
  std::size_t sends = opts.quick ? 2'000 : 50'000;
  {
    mode::Node a{sys, node_opts};
    auto to_b = a.connect({"127.0.0.1", b.node_port});
    auto spawner_proxy = sys.middleman().remote_actor("127.0.0.1", b.raw_port);
    auto counter_proxy = sys.middleman().remote_actor("127.0.0.1", b.count_port);
    auto group = sys.middleman().remote_group("bench-raw", "127.0.0.1", b.groups_port);
    if (!spawner_proxy || !counter_proxy || !group)
      throw std::runtime_error("cannot reach node b's raw actors or its groups");
    mode::ClusterSignal<int> bench_signal{a, "bench"};
    int reps = opts.repetitions(5, 1);
    for (int i = 0; i < reps; ++i) {
      if (restarts) {
        if (mode)
          ours.push_back(mode_round(sys, to_b));
        if (caf)
          raws.push_back(caf_round(sys, *spawner_proxy));
        if (mode && caf)
          ratios.push_back(bench::ratio(ours.back(), raws.back()));
      }
      if (signals) {
        auto& counter = *counter_proxy;
        if (mode)
          sig_ours.push_back(send_rate(
              sends, [&](int x) { bench_signal.send_nowait("a", x); },
              [&] { return heard_on_b(sys, counter).first; }));
        if (caf)
          sig_raws.push_back(send_rate(
              sends, [&](int x) { caf::anon_send(*group, x); },
              [&] { return heard_on_b(sys, counter).second; }));
        if (mode && caf)
          sig_ratios.push_back(bench::ratio(sig_ours.back(), sig_raws.back()));
      }
    }
  }
  sys.middleman().stop();
  if (restarts)
    print_restart_lines(ours, raws, ratios, mode, caf);
  if (signals)
    print_signal_lines(sig_ours, sig_raws, sig_ratios, sends);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return bench::bench_main(
      argc, argv, "remote_bench",
      "Prints JSON lines: remote restarts and cluster signal sends per second (node b in a\n"
      "child process on loopback) vs raw CAF remote spawn + monitor and a remote group.\n"
      "Benchmarks: remote/restart-1 remote/signal\n"
      "Implementations (--impl): mode, caf\n",
      run);
}
