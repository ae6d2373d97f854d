// Tests for mode/signal_stats.hpp: sends and receiver errors counted per signal family and
// per label, for both signal kinds, and kept after the signals go. The census is
// process-wide, so every case uses owners of its own.
#include "mode/signal_stats.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "mode/service.hpp"
#include "mode/service_handle.hpp"
#include "mode/signal.hpp"
#include "mode/sync_signal.hpp"
#include "mode/testing.hpp"

using namespace std::chrono_literals;

namespace {

// The census's entry for one label, if it has one.
std::optional<mode::SignalStats> stats_of(const std::string& owner, const std::string& name) {
  for (auto& s : mode::signal_stats())
    if (s.owner == owner && s.name == name)
      return s;
  return std::nullopt;
}

struct Order {};

class Clerk : public mode::Service {
 public:
  void on_order(Order*, int n) {
    if (n < 0)
      throw std::invalid_argument("negative order");
    heard.fetch_add(1);
  }
  std::atomic<int> heard{0};
};

}  // namespace

TEST_CASE("signal stats: a SyncSignal counts every send and every receiver that throws" *
          doctest::timeout(10)) {
  mode::testing::log_capture logs{"mode.signals"};
  mode::SyncSignal<Order*, int> sig{"on_order", "stats.SyncShop"};
  Order order;
  sig.send(&order, 1);  // no receiver yet: still a send
  int heard = 0;
  sig.connect([&](Order*, int) { ++heard; });
  sig.connect([](Order*, int n) {
    if (n > 1)
      throw std::runtime_error("too many");
  });
  sig.send(&order, 1);
  sig.send(&order, 2);
  sig.send(&order, 3);
  CHECK(heard == 3);
  auto s = sig.stats();
  CHECK(s.owner == "stats.SyncShop");
  CHECK(s.name == "on_order");
  CHECK(s.sends == 4);
  CHECK(s.receiver_errors == 2);
  CHECK(logs.contains("too many"));
  auto census = stats_of("stats.SyncShop", "on_order");
  REQUIRE(census);
  CHECK(*census == mode::SignalStats{"stats.SyncShop", "on_order", 4, 2, 1});
}

TEST_CASE("signal stats: copies sharing receivers share counts; a clone counts on its own" *
          doctest::timeout(10)) {
  mode::SyncSignal<Order*> sig{"on_paid", "stats.Copies"};
  Order a;
  Order b;
  auto as_a = sig.with_default_sender(&a);
  auto copy = sig.with_default_sender();
  auto clone = sig.clone();
  sig.send(&b);
  as_a.send();
  copy.send(&a);
  clone.send(&b);
  clone.send(&b);
  CHECK(sig.stats().sends == 3);
  CHECK(as_a.stats().sends == 3);
  CHECK(clone.stats().sends == 2);
  auto moved = std::move(copy);
  moved.send(&a);
  CHECK(sig.stats().sends == 4);
  // Two families of one label: the census adds them up and counts both as live.
  CHECK(stats_of("stats.Copies", "on_paid") ==
        mode::SignalStats{"stats.Copies", "on_paid", 6, 0, 2});
}

TEST_CASE("signal stats: a label's totals outlive its signals and keep growing" *
          doctest::timeout(10)) {
  mode::testing::log_capture logs{"mode.signals"};
  for (int round = 0; round < 3; ++round) {
    mode::SyncSignal<Order*> sig{"on_tick", "stats.Rebuilt"};
    Order order;
    sig.connect([](Order*) { throw std::runtime_error("tick"); });
    sig.send(&order);
    sig.send(&order);
    auto now = stats_of("stats.Rebuilt", "on_tick");
    REQUIRE(now);
    CHECK(now->sends == static_cast<std::uint64_t>(2 * (round + 1)));
    CHECK(now->live == 1);
  }
  auto after = stats_of("stats.Rebuilt", "on_tick");
  REQUIRE(after);
  CHECK(*after == mode::SignalStats{"stats.Rebuilt", "on_tick", 6, 6, 0});
  CHECK_FALSE(stats_of("stats.Rebuilt", "never_declared"));
}

TEST_CASE("signal stats: signal_stats() is sorted by owner, then name" * doctest::timeout(10)) {
  mode::SyncSignal<Order*> b{"b", "stats.Sorted"};
  mode::SyncSignal<Order*> a{"a", "stats.Sorted"};
  mode::SyncSignal<Order*> z{"a", "stats.Sorted.Z"};
  auto all = mode::signal_stats();
  CHECK(std::is_sorted(all.begin(), all.end(), [](const auto& x, const auto& y) {
    return std::tie(x.owner, x.name) < std::tie(y.owner, y.name);
  }));
  auto count = std::count_if(all.begin(), all.end(),
                             [](const auto& s) { return s.owner.starts_with("stats.Sorted"); });
  CHECK(count == 3);
}

TEST_CASE("signal stats: the async Signal counts sends and receivers that throw on a service" *
          doctest::timeout(30)) {
  mode::testing::system_fixture fx;
  mode::testing::log_capture logs{"mode.signals"};
  mode::Signal<Order*, int> sig{"on_order", "stats.AsyncShop"};
  auto clerk = std::make_shared<Clerk>();
  mode::ServiceHandle h{fx.sys, clerk};
  h.start();
  sig.connect(clerk, &Clerk::on_order);
  Order order;
  sig.send_nowait(&order, 1);
  sig.send_nowait(&order, -1);
  sig.send_nowait(&order, 2);
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while ((clerk->heard.load() < 2 || sig.stats().receiver_errors < 1) &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  CHECK(clerk->heard.load() == 2);
  auto s = sig.stats();
  CHECK(s.sends == 3);
  CHECK(s.receiver_errors == 1);
  CHECK(logs.contains("negative order"));
  CHECK(h.state() == mode::ServiceState::running);  // a receiver's error is not a crash
  h.stop();
  sig.send_nowait(&order, 5);  // the clerk has gone: a send all the same, with no error
  CHECK(sig.stats().sends == 4);
  CHECK(sig.stats().receiver_errors == 1);
}
