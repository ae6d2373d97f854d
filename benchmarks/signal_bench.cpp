// signal_bench: SyncSignal and the async Signal against a plain call and raw CAF, in the same run.
//
//   signal/<n>/<unfiltered|filtered>   sends with n = 1 or 10 receivers, per implementation:
//     direct-call    the receivers called through std::function in a loop (baseline)
//     caf-list       raw CAF anon_send of one int to each of n actors (baseline)
//     caf-group      raw CAF anon_send of one int to a local group of n actors (baseline)
//     sync           mode::SyncSignal::send
//     nowait-direct  mode::Signal::send_nowait, direct transport (one service per receiver)
//     nowait-groups  mode::Signal::send_nowait, CAF-group transport
//     awaited        co_await mode::Signal::send from a service (waits for every receiver)
//   Filtered: every receiver hears only the sender used, and as many decoy receivers wait for
//   another sender. The baselines do not filter.
//
// Output: JSON lines on stdout (see docs/benchmarks.md), first a meta line; per case and
// implementation `{"bench":"signal","case":"signal/10/filtered","impl":"nowait-direct",
// "receivers":10,"filtered":true,"sends":20000,"us_per_send_median":..,"us_per_send_min":..,
// "sends_per_s":..,"calls_per_s":..}` (rates from the median), then a `signal_ratio` line per
// mode implementation: sends/s over the plain call's and over the matching raw CAF baseline's
// (caf-group for nowait-groups, caf-list otherwise). Options: --quick, --filter NAME,
// --impl NAME, --reps N, --threads N.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "bench_support.hpp"
#include "mode/service.hpp"
#include "mode/service_handle.hpp"
#include "mode/signal.hpp"
#include "mode/sync_signal.hpp"

namespace {

namespace bench = mode::bench;

std::atomic<std::uint64_t> calls{0};

struct Source {
  int id = 0;
};

/// One timed run: `sends` sends took `seconds`.
struct result {
  std::uint64_t sends = 0;
  double seconds = 0;
};

// Waits until the receivers made `expected` calls in all.
void await_calls(std::uint64_t expected) {
  while (calls.load(std::memory_order_acquire) < expected)
    std::this_thread::yield();
}

template <class F>
double timed(F&& f) {
  return bench::time_us(std::forward<F>(f)) / 1e6;
}

// -- baselines ----------------------------------------------------------------------------

result bench_direct_call(int n, std::uint64_t sends) {
  std::vector<std::function<void(Source*, int)>> fns;
  for (int i = 0; i < n; ++i)
    fns.emplace_back([](Source*, int) { calls.fetch_add(1, std::memory_order_relaxed); });
  Source src;
  calls = 0;
  auto secs = timed([&] {
    for (std::uint64_t i = 0; i < sends; ++i)
      for (auto& f : fns)
        f(&src, static_cast<int>(i));
  });
  return {sends, secs};
}

caf::behavior counting_actor(caf::event_based_actor*) {
  return {[](int) {
    calls.fetch_add(1, std::memory_order_relaxed);
  }};
}

result bench_raw_caf(caf::actor_system& sys, int n, std::uint64_t sends) {
  std::vector<caf::actor> actors;
  for (int i = 0; i < n; ++i)
    actors.push_back(sys.spawn(counting_actor));
  calls = 0;
  auto secs = timed([&] {
    for (std::uint64_t i = 0; i < sends; ++i)
      for (auto& a : actors)
        caf::anon_send(a, static_cast<int>(i));
    await_calls(sends * static_cast<std::uint64_t>(n));
  });
  for (auto& a : actors)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  return {sends, secs};
}

result bench_raw_group(caf::actor_system& sys, int n, std::uint64_t sends) {
  auto grp = sys.groups().get_local("bench.raw." + std::to_string(n));
  std::vector<caf::actor> actors;
  for (int i = 0; i < n; ++i) {
    actors.push_back(sys.spawn(counting_actor));
    // Subscribed right here (join() would wait for the actor's first turn).
    grp->subscribe(caf::actor_cast<caf::strong_actor_ptr>(actors.back()));
  }
  calls = 0;
  auto secs = timed([&] {
    for (std::uint64_t i = 0; i < sends; ++i)
      caf::anon_send(grp, static_cast<int>(i));
    await_calls(sends * static_cast<std::uint64_t>(n));
  });
  for (auto& a : actors) {
    grp->unsubscribe(caf::actor_cast<caf::actor_control_block*>(a));
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
  return {sends, secs};
}

// -- SyncSignal ---------------------------------------------------------------------------

result bench_sync_signal(int n, bool filtered, std::uint64_t sends) {
  mode::SyncSignal<Source*, int> sig{"on_value", "Bench"};
  Source src{1};
  Source decoy{2};
  for (int i = 0; i < n; ++i) {
    mode::SyncSignal<Source*, int>::options opts;
    if (filtered)
      opts.sender = &src;
    sig.connect([](Source*, int) { calls.fetch_add(1, std::memory_order_relaxed); }, opts);
    if (filtered)
      sig.connect([](Source*, int) { std::abort(); }, {.sender = &decoy});
  }
  calls = 0;
  auto secs = timed([&] {
    for (std::uint64_t i = 0; i < sends; ++i)
      sig.send(&src, static_cast<int>(i));
  });
  return {sends, secs};
}

// -- Signal -------------------------------------------------------------------------------

using value_signal = mode::Signal<Source*, int>;

class Listener : public mode::Service {
 public:
  void on_value(Source*, int) { calls.fetch_add(1, std::memory_order_relaxed); }
  void on_decoy(Source*, int) { std::abort(); }
};

// n listening services, each with one receiver (plus a decoy when filtered).
struct listeners {
  std::vector<mode::ServiceHandle> handles;
  listeners(caf::actor_system& sys, value_signal& sig, int n, bool filtered, Source* src,
            Source* decoy) {
    for (int i = 0; i < n; ++i) {
      auto l = std::make_shared<Listener>();
      value_signal::options opts;
      if (filtered)
        opts.sender = src;
      sig.connect(l, &Listener::on_value, opts);
      if (filtered)
        sig.connect(l, &Listener::on_decoy, {.sender = decoy});
      handles.emplace_back(sys, l);
      handles.back().start();
    }
  }
  ~listeners() {
    for (auto& h : handles)
      h.stop();
  }
};

result bench_signal_nowait(caf::actor_system& sys, int n, bool filtered,
                           mode::signal_transport transport, std::uint64_t sends) {
  value_signal sig{"on_value", "Bench"};
  sig.set_transport(transport);
  Source src{1};
  Source decoy{2};
  listeners ls{sys, sig, n, filtered, &src, &decoy};
  // Warm-up (the group transport subscribes its members on the first send).
  calls = 0;
  sig.send_nowait(&src, -1);
  await_calls(static_cast<std::uint64_t>(n));
  calls = 0;
  auto secs = timed([&] {
    for (std::uint64_t i = 0; i < sends; ++i)
      sig.send_nowait(&src, static_cast<int>(i));
    await_calls(sends * static_cast<std::uint64_t>(n));
  });
  return {sends, secs};
}

// Awaits every send from a service's coroutine: the sender waits for all acknowledgements.
class Driver : public mode::Service {
 public:
  Driver(value_signal& sig, Source& src, std::uint64_t sends)
      : sig_(sig), src_(src), sends_(sends) {}
  mode::task<void> on_start() override {
    for (std::uint64_t i = 0; i < sends_; ++i)
      co_await sig_.send(&src_, static_cast<int>(i));
  }

 private:
  value_signal& sig_;
  Source& src_;
  std::uint64_t sends_;
};

result bench_signal_awaited(caf::actor_system& sys, int n, bool filtered, std::uint64_t sends) {
  value_signal sig{"on_value", "Bench"};
  Source src{1};
  Source decoy{2};
  listeners ls{sys, sig, n, filtered, &src, &decoy};
  calls = 0;
  mode::ServiceHandle driver{sys, std::make_shared<Driver>(sig, src, sends)};
  auto secs = timed([&] { driver.start(mode::Seconds{600}); });
  if (calls.load() != sends * static_cast<std::uint64_t>(n))
    std::abort();
  driver.stop();
  return {sends, secs};
}

// -- driver -----------------------------------------------------------------------------

struct measured {
  std::uint64_t sends = 0;
  bench::summary us_per_send;
  double sends_per_s() const { return us_per_send.median > 0 ? 1e6 / us_per_send.median : 0; }
};

int run(const bench::options& opts) {
  caf::actor_system_config cfg;
  caf::actor_system sys{bench::configure(cfg, opts)};
  bench::meta_line("signal_bench", opts).print();
  auto reps = opts.repetitions(5, 1);
  auto scale = opts.quick ? 0.02 : 1.0;
  bool matched = false;
  for (int n : {1, 10}) {
    for (bool filtered : {false, true}) {
      auto name = fmt::format("signal/{}/{}", n, filtered ? "filtered" : "unfiltered");
      if (!opts.wants(name))
        continue;
      matched = true;
      auto count = [&](double sends) {
        return static_cast<std::uint64_t>(sends * scale / static_cast<double>(n)) + 1;
      };
      using bench_fn = std::function<result()>;
      std::vector<std::pair<std::string, bench_fn>> impls{
          {"direct-call",
           [&] {
             return bench_direct_call(n, count(2e6));
           }},
          {"caf-list",
           [&] {
             return bench_raw_caf(sys, n, count(2e5));
           }},
          {"caf-group",
           [&] {
             return bench_raw_group(sys, n, count(2e5));
           }},
          {"sync",
           [&] {
             return bench_sync_signal(n, filtered, count(2e6));
           }},
          {"nowait-direct",
           [&] {
             return bench_signal_nowait(sys, n, filtered, mode::signal_transport::direct,
                                        count(2e5));
           }},
          {"nowait-groups",
           [&] {
             return bench_signal_nowait(sys, n, filtered, mode::signal_transport::groups,
                                        count(2e5));
           }},
          {"awaited",
           [&] {
             return bench_signal_awaited(sys, n, filtered, count(2e4));
           }},
      };
      // Repetitions interleave the implementations, so that load shifts hit all alike.
      std::map<std::string, std::vector<double>> samples;
      std::map<std::string, std::uint64_t> sends;
      for (int rep = 0; rep < reps; ++rep)
        for (auto& [impl, fn] : impls) {
          if (!opts.wants_impl(impl))
            continue;
          auto r = fn();
          samples[impl].push_back(r.seconds * 1e6 / static_cast<double>(r.sends));
          sends[impl] = r.sends;
        }
      std::map<std::string, measured> results;
      for (auto& [impl, fn] : impls) {
        if (!samples.contains(impl))
          continue;
        auto& m = results[impl];
        m.sends = sends[impl];
        m.us_per_send = bench::summarize(samples[impl]);
        bench::json_line line{"signal"};
        line.add("case", name).add("impl", impl).add("receivers", n).add("filtered", filtered);
        line.add("sends", m.sends);
        bench::add_summary(line, "us_per_send", m.us_per_send);
        line.add("sends_per_s", m.sends_per_s()).add("calls_per_s", m.sends_per_s() * n);
        line.print();
      }
      if (!opts.impl.empty())
        continue;
      for (const char* impl : {"sync", "nowait-direct", "nowait-groups", "awaited"}) {
        const char* raw = std::string_view{impl} == "nowait-groups" ? "caf-group" : "caf-list";
        bench::json_line line{"signal_ratio"};
        line.add("case", name).add("impl", impl);
        line.add("vs_direct_call",
                 bench::ratio(results[impl].sends_per_s(), results["direct-call"].sends_per_s()));
        if (std::string_view{impl} != "sync")
          line.add("baseline", raw)
              .add("vs_raw_caf",
                   bench::ratio(results[impl].sends_per_s(), results[raw].sends_per_s()));
        line.print();
      }
    }
  }
  if (!matched)
    throw std::invalid_argument(fmt::format("no benchmark matches '{}'", opts.filter));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return bench::bench_main(
      argc, argv, "signal_bench",
      "Prints JSON lines: sends/s of SyncSignal and Signal vs a plain call and raw CAF.\n"
      "Benchmarks: signal/1/unfiltered signal/1/filtered signal/10/unfiltered\n"
      "            signal/10/filtered\n"
      "Implementations: direct-call caf-list caf-group sync nowait-direct "
      "nowait-groups\n                 awaited\n",
      run);
}
