// Signal throughput: SyncSignal and the async Signal (direct and CAF-group transports, fire and
// forget and awaited) with 1 and 10 receivers, unfiltered and filtered, next to a plain direct
// call, raw CAF sends to a list of actors and a raw CAF group broadcast, all in the same run.
//
// One JSON object per line:
//   {"bench":"signal","case":"Signal.send_nowait/direct","receivers":10,"filtered":false,
//    "sends":50000,"seconds":0.04,"sends_per_s":1.2e6,"calls_per_s":1.2e7,
//    "vs_direct_call":0.01,"vs_raw_caf":0.8}
// vs_direct_call compares sends/s with calling the receivers through std::function in a loop;
// vs_raw_caf compares the async cases with raw CAF sends to the same number of actors (for
// the group transport: with the raw CAF group broadcast). Filtered: every receiver hears only
// the sender used, and as many decoy receivers wait for another sender.
//
// Usage: signal_bench [scale]   (scale multiplies the number of sends; default 1)
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <caf/all.hpp>

#include "mode/service.hpp"
#include "mode/service_handle.hpp"
#include "mode/signal.hpp"
#include "mode/signals.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

std::atomic<std::uint64_t> calls{0};

struct Source {
  int id = 0;
};

struct result {
  std::string name;
  int receivers = 0;
  bool filtered = false;
  std::uint64_t sends = 0;
  double seconds = 0;
  double sends_per_s() const { return seconds > 0 ? static_cast<double>(sends) / seconds : 0; }
};

// Baselines by receiver count, for the ratios.
std::map<int, double> direct_call_rate;
std::map<int, double> raw_caf_rate;
std::map<int, double> raw_group_rate;

void print(const result& r, double direct_call, double raw) {
  auto rate = r.sends_per_s();
  auto line = fmt::format(
      R"({{"bench":"signal","case":"{}","receivers":{},"filtered":{},"sends":{},"seconds":{:.6f},)"
      R"("sends_per_s":{:.0f},"calls_per_s":{:.0f},"vs_direct_call":{:.4f})",
      r.name, r.receivers, r.filtered ? "true" : "false", r.sends, r.seconds, rate,
      rate * r.receivers, direct_call > 0 ? rate / direct_call : 0.0);
  if (raw > 0)
    line += fmt::format(R"(,"vs_raw_caf":{:.3f})", rate / raw);
  line += "}";
  std::puts(line.c_str());
  std::fflush(stdout);
}

// Waits until the receivers made `expected` calls in all.
void await_calls(std::uint64_t expected) {
  while (calls.load(std::memory_order_acquire) < expected)
    std::this_thread::yield();
}

template <class F>
double timed(F&& f) {
  auto start = clock_type::now();
  f();
  return std::chrono::duration<double>(clock_type::now() - start).count();
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
  return {"direct_call", n, false, sends, secs};
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
  return {"raw_caf.anon_send_to_list", n, false, sends, secs};
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
  return {"raw_caf.group_broadcast", n, false, sends, secs};
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
  return {"SyncSignal.send", n, filtered, sends, secs};
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
  auto name = transport == mode::signal_transport::direct ? "Signal.send_nowait/direct"
                                                          : "Signal.send_nowait/groups";
  return {name, n, filtered, sends, secs};
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
  return {"Signal.send/awaited", n, filtered, sends, secs};
}

}  // namespace

int main(int argc, char** argv) {
  double scale = argc > 1 ? std::atof(argv[1]) : 1.0;
  if (scale <= 0) {
    std::fprintf(stderr, "signal_bench: scale must be a positive number, got '%s'\n", argv[1]);
    return 2;
  }
  auto count = [scale](double n) {
    return static_cast<std::uint64_t>(n * scale) + 1;
  };
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  for (int n : {1, 10}) {
    auto per = static_cast<double>(n);
    auto direct = bench_direct_call(n, count(2e6 / per));
    direct_call_rate[n] = direct.sends_per_s();
    print(direct, direct_call_rate[n], 0);
    auto raw = bench_raw_caf(sys, n, count(2e5 / per));
    raw_caf_rate[n] = raw.sends_per_s();
    print(raw, direct_call_rate[n], 0);
    auto group = bench_raw_group(sys, n, count(2e5 / per));
    raw_group_rate[n] = group.sends_per_s();
    print(group, direct_call_rate[n], 0);
    for (bool filtered : {false, true}) {
      print(bench_sync_signal(n, filtered, count(2e6 / per)), direct_call_rate[n], 0);
      print(bench_signal_nowait(sys, n, filtered, mode::signal_transport::direct, count(2e5 / per)),
            direct_call_rate[n], raw_caf_rate[n]);
      print(bench_signal_nowait(sys, n, filtered, mode::signal_transport::groups, count(2e5 / per)),
            direct_call_rate[n], raw_group_rate[n]);
      print(bench_signal_awaited(sys, n, filtered, count(2e4 / per)), direct_call_rate[n],
            raw_caf_rate[n]);
    }
  }
}
