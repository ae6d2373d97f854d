// Tests for mode/signal.hpp: the async Signal on services' actors. Ports the async parts of
// mode's tests/functional/test_signals.py and checks where receivers run, awaited sends,
// filters, weak receivers, disconnects, throwing receivers, concurrency and the group pool.
#include "mode/signal.hpp"
#include "mode/sync_signal.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "mode/service.hpp"
#include "mode/service_handle.hpp"
#include "test_support.hpp"

using namespace std::chrono_literals;
using mode::signal_transport;
using mode::task;
using mode::testing::log_capture;
using mode::testing::recorder;
using mode::testing::system_fixture;

namespace {

// -- helpers ----------------------------------------------------------------------------------

// Waits (bounded) for work that other actors finish on their own schedule.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 10s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (int round = 0; !pred(); ++round) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    // Most waits end within a few scheduler turns: yield first, then back off.
    if (round < 1000)
      std::this_thread::yield();
    else
      std::this_thread::sleep_for(1ms);
  }
  return true;
}

// True if the calling code runs on `svc`'s actor.
bool on_actor_of(const mode::Service& svc) {
  return mode::detail::signal_current_service().get() == &svc;
}

struct Source {
  std::string name;
};

using value_signal = mode::Signal<Source*, int>;

// Runs `script` as its on_start: ServiceHandle::start() returns once the script finished.
class Script : public mode::Service {
 public:
  using script_type = std::function<task<void>(Script&)>;
  explicit Script(script_type script, std::string name = "Script")
      : script_(std::move(script)), name_(std::move(name)) {}
  std::string label() const override { return name_; }
  task<void> on_start() override { co_await script_(*this); }

 private:
  script_type script_;
  std::string name_;
};

// A service with receivers that record what they got and whether they ran on its actor.
class Listener : public mode::Service {
 public:
  Listener(std::string name, std::shared_ptr<recorder> rec)
      : name_(std::move(name)), rec_(std::move(rec)) {}
  std::string label() const override { return name_; }

  void on_value(Source* sender, int value) {
    rec_->add(name_ + ":" + sender->name + ":" + std::to_string(value) + where());
  }

  task<void> on_value_later(Source* sender, int value) {
    co_await sleep(0.005);  // suspends: the send must wait for the rest
    rec_->add(name_ + ":" + sender->name + ":" + std::to_string(value) + where());
  }

  void on_value_throw(Source*, int) { throw std::runtime_error("listener says no"); }

  std::string where() const { return on_actor_of(*this) ? "" : "!off-actor"; }

  // Connected in on_start when set: the connect runs on this service's actor (rule 2).
  std::function<void(Listener&)> connect_at_start;

  task<void> on_start() override {
    if (connect_at_start)
      connect_at_start(*this);
    co_return;
  }

 private:
  std::string name_;
  std::shared_ptr<recorder> rec_;
};

std::shared_ptr<Listener> make_listener(const std::string& name, std::shared_ptr<recorder> rec) {
  return std::make_shared<Listener>(name, std::move(rec));
}

}  // namespace

// -- compile-time checks ------------------------------------------------------------------------

static_assert(mode::SignalT<value_signal>);
static_assert(mode::SignalT<mode::Signal<std::string>>);
static_assert(mode::BaseSignalT<value_signal>);
static_assert(!mode::SyncSignalT<value_signal>);
static_assert(!mode::SignalT<mode::SyncSignal<Source*, int>>);
// Receivers and sends are checked against the argument types at compile time.
template <class S, class F>
concept connectable = requires(S& s, F f) {
  s.connect(f);
};

template <class S, class... A>
concept sendable_nowait = requires(const S& s, A... a) {
  s.send_nowait(a...);
};

static_assert(connectable<value_signal, decltype([](Source*, int) {})>);
static_assert(connectable<value_signal, decltype([](Source*, int) -> task<void> { co_return; })>);
static_assert(connectable<value_signal, decltype([](Source*, int, const value_signal&) {})>);
static_assert(!connectable<value_signal, decltype([](Source*, const std::string&) {})>);
static_assert(!connectable<value_signal, decltype([](int) {})>);
static_assert(sendable_nowait<value_signal, Source*, int>);
static_assert(!sendable_nowait<value_signal, const char*, int>);
static_assert(!sendable_nowait<value_signal, Source*, const char*>);

// -- mode's scenario ------------------------------------------------------------------------------

namespace {

// mode's X and Y: per-instance signals made from class-level ones with with_default_sender(self).
struct X {
  using signal_type = mode::Signal<X*, int>;
  static signal_type& cls_started() {
    static signal_type s{"on_started", "X"};
    return s;
  }
  static signal_type& cls_stopped() {
    static signal_type s{"on_stopped", "X"};
    return s;
  }
  X()
      : on_started(cls_started().with_default_sender(this)),
        on_stopped(cls_stopped().with_default_sender(this)) {}
  virtual ~X() = default;
  signal_type on_started;
  signal_type on_stopped;
};

struct Y : X {};

}  // namespace

TEST_CASE("mode: test_signals.py::test_signals: the scenario, awaited from a service" *
          doctest::timeout(30)) {
  system_fixture fx;
  auto rec = std::make_shared<recorder>();
  X x;
  Y y;
  y.on_stopped.connect([rec](X* self, int value) -> task<void> {
    rec->add("stopped:" + std::to_string(value) + (self != nullptr ? ":sender" : ""));
    co_return;
  });
  y.on_started.connect([rec, &y](X* self, int value) -> task<void> {
    rec->add("started:" + std::to_string(value) + (self == &y ? ":y" : ":?"));
    co_return;
  });
  auto script = std::make_shared<Script>([&](Script&) -> task<void> {
    co_await y.on_started.send(1);
    rec->add("after on_started");
    co_await y.on_stopped.send(2);
    co_await x.on_started.send(3);  // x's signals share nothing with y's receivers
    co_await x.on_stopped(4);
  });
  mode::ServiceHandle h{fx.sys, script};
  h.start();
  CHECK(rec->events() ==
        std::vector<std::string>{"started:1:y", "after on_started", "stopped:2:sender"});
  CHECK(x.on_started.ident() == "X.on_started");
  CHECK(x.on_started.label() == "X.on_started");
  CHECK(mode::to_string(X::cls_started()) == "<Signal: X.on_started>");
  CHECK(mode::to_string(x.on_started).starts_with("<Signal: X.on_started sender=0x"));
  CHECK(x.on_started.clone().asdict() == x.on_started.asdict());
  CHECK(X::cls_started().with_default_sender(&x).default_sender() == &x);
  h.stop();
}

TEST_CASE("signals: services declare signals as members; owner and name give the label" *
          doctest::timeout(30)) {
  struct Orders : mode::Service {
    mode::Signal<Orders*, int> on_order{
        {.name = "on_order", .owner = "Orders", .default_sender = this}};
    std::string label() const override { return "Orders"; }
  };
  system_fixture fx;
  auto orders = std::make_shared<Orders>();
  CHECK(orders->on_order.label() == "Orders.on_order");
  CHECK(orders->on_order.default_sender() == orders.get());
  auto rec = std::make_shared<recorder>();
  orders->on_order.connect([rec](Orders* sender, int n, const mode::Signal<Orders*, int>& sig) {
    rec->add(sig.label() + ":" + sender->label() + ":" + std::to_string(n));
  });
  orders->on_order.set_name("");
  orders->on_order.set_owner_and_name("Shop", "placed");  // mode's __set_name__
  CHECK(orders->on_order.label() == "Shop.placed");
  orders->on_order.send_nowait(7);  // from a plain thread: a receiver without service runs inline
  CHECK(rec->events() == std::vector<std::string>{"Shop.placed:Orders:7"});
}

TEST_CASE("signals: send_nowait copies its arguments (a T& one does not compile)" *
          doctest::timeout(30)) {
  // tests/compile_fail/send_nowait_mutable_ref.cpp: send_nowait with a T& argument
  // fails to build, naming co_await send() as the fix.
  system_fixture fx;
  auto rec = std::make_shared<recorder>();
  using text_signal = mode::Signal<std::string, const std::string&, std::vector<int>>;
  text_signal sig{"on_text", "Test"};
  auto l = make_listener("l", rec);
  sig.connect(l, [rec](Listener&, const std::string& sender, const std::string& text,
                       std::vector<int> v, const text_signal& signal) {
    rec->add(signal.label() + ":" + sender + ":" + text + ":" + std::to_string(v.size()));
  });
  mode::ServiceHandle h{fx.sys, l};
  h.start();
  {
    // Temporaries that are gone before the receiver runs.
    sig.send_nowait(std::string(20, 's'), std::string(40, 't'), std::vector<int>{1, 2, 3});
  }
  CHECK(eventually([&] { return rec->events().size() == 1; }));
  CHECK(rec->events() == std::vector<std::string>{"Test.on_text:" + std::string(20, 's') + ":" +
                                                  std::string(40, 't') + ":3"});
  h.stop();
}

// -- where receivers run, and awaited sends
// ---------------------------------------------------------

TEST_CASE("signals: an awaited send resumes after every receiver on three services ran" *
          doctest::timeout(30)) {
  system_fixture fx;
  auto rec = std::make_shared<recorder>();
  value_signal sig{"on_value", "Test"};
  Source src{"src"};
  std::vector<mode::ServiceHandle> listeners;
  for (const char* name : {"a", "b", "c"}) {
    auto l = make_listener(name, rec);
    sig.connect(l, &Listener::on_value_later);  // coroutine receivers that suspend
    listeners.emplace_back(fx.sys, l);
    listeners.back().start();
  }
  sig.connect([rec](Source*, int v) { rec->add("inline:" + std::to_string(v)); });
  auto script = std::make_shared<Script>([&](Script&) -> task<void> {
    co_await sig.send(&src, 1);
    rec->add("resumed");
  });
  mode::ServiceHandle h{fx.sys, script};
  h.start();
  auto events = rec->events();
  REQUIRE(events.size() == 5);
  CHECK(events.back() == "resumed");
  std::sort(events.begin(), events.end() - 1);
  CHECK(events == std::vector<std::string>{"a:src:1", "b:src:1", "c:src:1", "inline:1", "resumed"});
  h.stop();
  for (auto& l : listeners)
    l.stop();
}

TEST_CASE("signals: receivers run on their service's actor" * doctest::timeout(30)) {
  system_fixture fx;
  auto rec = std::make_shared<recorder>();
  value_signal sig{"on_value", "Test"};
  Source src{"src"};
  auto a = make_listener("bound", rec);
  auto b = make_listener("started", rec);
  auto c = make_listener("weak", rec);
  sig.connect(a, &Listener::on_value);  // rule 1: bound to the service
  sig.connect(std::weak_ptr<Listener>{c},
              [](Listener& self, Source* s, int v) { self.on_value(s, v); });
  b->connect_at_start = [&sig](Listener& self) {  // rule 2: connected on its actor
    sig.connect([&self](Source* s, int v) { self.on_value(s, v); });
  };
  mode::ServiceHandle ha{fx.sys, a}, hb{fx.sys, b}, hc{fx.sys, c};
  ha.start();
  hb.start();
  hc.start();
  SUBCASE("send_nowait from a plain thread") {
    sig.send_nowait(&src, 5);
  }
  SUBCASE("send_nowait from a service") {
    auto script = std::make_shared<Script>([&](Script&) -> task<void> {
      sig.send_nowait(&src, 5);
      co_return;
    });
    mode::ServiceHandle h{fx.sys, script};
    h.start();
    h.stop();
  }
  SUBCASE("send_nowait over CAF groups") {
    sig.set_transport(signal_transport::groups);
    sig.send_nowait(&src, 5);
  }
  CHECK(eventually([&] { return rec->events().size() == 3; }));
  auto events = rec->events();
  std::sort(events.begin(), events.end());
  CHECK(events == std::vector<std::string>{"bound:src:5", "started:src:5", "weak:src:5"});
  ha.stop();
  hb.stop();
  hc.stop();
}

TEST_CASE("signals: receivers without a service run where the sender runs" * doctest::timeout(30)) {
  system_fixture fx;
  auto rec = std::make_shared<recorder>();
  value_signal sig{"on_value", "Test"};
  Source src{"src"};
  sig.connect([rec](Source*, int v) {
    auto svc = mode::detail::signal_current_service();
    rec->add((svc ? svc->label() : std::string{"inline"}) + ":" + std::to_string(v));
  });
  SUBCASE("send_nowait from a plain thread: inline") {
    sig.send_nowait(&src, 1);
    CHECK(rec->events() == std::vector<std::string>{"inline:1"});
  }
  SUBCASE("from a service: awaited inline, without waiting after the current handler") {
    std::size_t seen_at_return = 99;
    auto script = std::make_shared<Script>([&](Script&) -> task<void> {
      sig.send_nowait(&src, 1);
      seen_at_return = rec->events().size();
      co_await sig.send(&src, 2);
    });
    mode::ServiceHandle h{fx.sys, script};
    h.start();
    CHECK(seen_at_return == 0);
    CHECK(eventually([&] { return rec->events().size() == 2; }));
    CHECK(rec->events() == std::vector<std::string>{"Script:2", "Script:1"});
    h.stop();
  }
  SUBCASE("a coroutine receiver from a plain thread runs inline until it ends") {
    sig.connect([rec](Source*, int v) -> task<void> {
      rec->add("coroutine:" + std::to_string(v));
      co_return;
    });
    sig.send_nowait(&src, 3);
    CHECK(rec->events() == std::vector<std::string>{"inline:3", "coroutine:3"});
  }
}

namespace {

task<void> await_catching(task<void> t, std::string* what) {
  try {
    co_await std::move(t);
  } catch (const std::logic_error& e) {
    *what = e.what();
  }
}

}  // namespace

TEST_CASE("signals: co_await send() off a service's actor is a clear error" *
          doctest::timeout(10)) {
  value_signal sig{"on_value", "Test"};
  Source src{"src"};
  sig.connect([](Source*, int) {});
  // Awaited from a bare coroutine that no service runs.
  std::string what;
  auto outer = await_catching(sig.send(&src, 1), &what);
  auto h = outer.release();
  h.resume();
  CHECK(h.done());
  h.destroy();
  CHECK(what.find("Signal 'Test.on_value'") != std::string::npos);
  CHECK(what.find("send_nowait") != std::string::npos);
}

TEST_CASE("signals: send without a sender needs a default sender" * doctest::timeout(10)) {
  mode::Signal<Source*> sig{"on_x", "Test"};
  CHECK_THROWS_WITH_AS(sig.send_nowait(), doctest::Contains("Signal 'Test.on_x'"),
                       std::logic_error);
  CHECK_THROWS_AS(static_cast<void>(sig.send()), std::logic_error);
}

// -- filters, default senders
// -----------------------------------------------------------------------

TEST_CASE("signals: filtered and unfiltered delivery" * doctest::timeout(30)) {
  system_fixture fx;
  auto rec = std::make_shared<recorder>();
  value_signal sig{"on_value", "Test"};
  SUBCASE("direct") {}
  SUBCASE("groups") {
    sig.set_transport(signal_transport::groups);
  }
  Source s1{"s1"}, s2{"s2"};
  auto all = make_listener("all", rec);
  auto only1 = make_listener("only1", rec);
  auto only2 = make_listener("only2", rec);
  auto both = make_listener("both", rec);
  sig.connect(all, &Listener::on_value);
  sig.connect(only1, &Listener::on_value, {.sender = &s1});
  sig.connect(only2, &Listener::on_value, {.sender = &s2});
  sig.connect(both, &Listener::on_value);                   // unfiltered and
  sig.connect(both, &Listener::on_value, {.sender = &s1});  // filtered: in both groups
  std::vector<mode::ServiceHandle> hs;
  for (auto& l : {all, only1, only2, both}) {
    hs.emplace_back(fx.sys, l);
    hs.back().start();
  }
  sig.send_nowait(&s1, 1);
  CHECK(eventually([&] { return rec->events().size() == 4; }));
  sig.send_nowait(&s2, 2);
  CHECK(eventually([&] { return rec->events().size() == 7; }));
  Source s3{"s3"};
  sig.send_nowait(&s3, 3);
  CHECK(eventually([&] { return rec->events().size() == 9; }));
  auto events = rec->events();
  std::sort(events.begin(), events.end());
  CHECK(events == std::vector<std::string>{"all:s1:1", "all:s2:2", "all:s3:3", "both:s1:1",
                                           "both:s1:1", "both:s2:2", "both:s3:3", "only1:s1:1",
                                           "only2:s2:2"});
  for (auto& h : hs)
    h.stop();
}

TEST_CASE("signals: with_default_sender shares the receivers" * doctest::timeout(30)) {
  system_fixture fx;
  auto rec = std::make_shared<recorder>();
  Source a{"a"}, b{"b"};
  value_signal cls{"on_value", "Test"};
  cls.set_transport(signal_transport::groups);
  auto sig_a = cls.with_default_sender(&a);
  auto sig_b = cls.with_default_sender(&b);
  CHECK(sig_a.shares_receivers_with(cls));
  CHECK(sig_a.transport() == signal_transport::groups);
  CHECK(cls.clone().transport() == signal_transport::groups);
  CHECK_FALSE(cls.clone().shares_receivers_with(cls));
  auto l = make_listener("l", rec);
  mode::ServiceHandle h{fx.sys, l};
  h.start();
  cls.connect(l, &Listener::on_value);    // hears everyone
  sig_a.connect(l, &Listener::on_value);  // filtered on a (its default sender)
  sig_b.send_nowait(1);
  CHECK(eventually([&] { return rec->events().size() == 1; }));
  sig_a.send_nowait(2);
  CHECK(eventually([&] { return rec->events().size() == 3; }));
  cls.send_nowait(&b, 3);
  CHECK(eventually([&] { return rec->events().size() == 4; }));
  CHECK(rec->events() == std::vector<std::string>{"l:b:1", "l:a:2", "l:a:2", "l:b:3"});
  CHECK(sig_a.iter_receivers(&a).size() == 2);
  CHECK(cls.iter_receivers().size() == 1);
  h.stop();
}

// -- weak receivers and disconnect ---------------------------------------------------------------

TEST_CASE("signals: weak receivers are pruned once their service has gone" * doctest::timeout(30)) {
  system_fixture fx;
  auto rec = std::make_shared<recorder>();
  value_signal sig{"on_value", "Test"};
  SUBCASE("direct") {}
  SUBCASE("groups") {
    sig.set_transport(signal_transport::groups);
  }
  Source src{"src"};
  auto keep = make_listener("keep", rec);
  mode::ServiceHandle hk{fx.sys, keep};
  hk.start();
  sig.connect(keep, &Listener::on_value);
  std::weak_ptr<Listener> gone;
  {
    auto l = make_listener("gone", rec);
    gone = l;
    sig.connect(l, &Listener::on_value, {.weak = true});
    mode::ServiceHandle h{fx.sys, l};
    h.start();
    sig.send_nowait(&src, 1);
    CHECK(eventually([&] { return rec->events().size() == 2; }));
    h.stop();
  }
  // Nothing holds the stopped service now (no group either): its actor and object go.
  CHECK(eventually([&] { return gone.expired(); }));
  CHECK(sig.iter_receivers(&src).size() == 1);
  CHECK(sig.registry().size() == 1);
  sig.send_nowait(&src, 2);
  CHECK(eventually([&] { return rec->events().size() == 3; }));
  CHECK(rec->events().back() == "keep:src:2");
  hk.stop();
}

namespace {

std::shared_ptr<recorder> free_rec;

void free_receiver(Source* s, int v) {
  free_rec->add("free:" + s->name + ":" + std::to_string(v));
}

}  // namespace

TEST_CASE("signals: disconnect removes every kind of receiver" * doctest::timeout(30)) {
  system_fixture fx;
  auto rec = std::make_shared<recorder>();
  free_rec = rec;
  value_signal sig{"on_value", "Test"};
  Source src{"src"};
  auto l = make_listener("l", rec);
  mode::ServiceHandle h{fx.sys, l};
  h.start();
  auto other = make_listener("other", rec);
  mode::ServiceHandle ho{fx.sys, other};
  ho.start();
  sig.connect(other, &Listener::on_value);  // stays
  auto expect_only_other = [&] {
    rec->clear();
    auto script =
        std::make_shared<Script>([&](Script&) -> task<void> { co_await sig.send(&src, 9); });
    mode::ServiceHandle hs{fx.sys, script};
    hs.start();
    hs.stop();
    CHECK(rec->events() == std::vector<std::string>{"other:src:9"});
  };
  SUBCASE("function, by pointer") {
    sig.connect(&free_receiver);
    CHECK(sig.disconnect(&free_receiver));
  }
  SUBCASE("function filtered on a sender") {
    sig.connect(&free_receiver, {.sender = &src});
    CHECK_FALSE(sig.disconnect(&free_receiver));
    CHECK(sig.disconnect(&free_receiver, {.sender = &src}));
  }
  SUBCASE("member function on a raw pointer to a running service") {
    sig.connect(l.get(), &Listener::on_value);
    CHECK(sig.disconnect(l.get(), &Listener::on_value));
  }
  SUBCASE("member function on a shared_ptr, strong") {
    sig.connect(l, &Listener::on_value);
    CHECK(sig.disconnect(l, &Listener::on_value));
  }
  SUBCASE("member function, weak, filtered") {
    sig.connect(std::weak_ptr<Listener>{l}, &Listener::on_value, {.sender = &src});
    CHECK(sig.disconnect(std::weak_ptr<Listener>{l}, &Listener::on_value, {.sender = &src}));
  }
  SUBCASE("lambda, by id") {
    auto id = sig.connect([rec](Source*, int) { rec->add("lambda"); });
    CHECK(sig.disconnect(id));
    CHECK_FALSE(sig.disconnect(id));
  }
  SUBCASE("coroutine bound to a service, by id") {
    auto id =
        sig.connect(l, [](Listener& self, Source* s, int v) { return self.on_value_later(s, v); });
    CHECK(sig.disconnect(id));
  }
  SUBCASE("every receiver of a service") {
    sig.connect(l, &Listener::on_value);
    sig.connect(l, &Listener::on_value_later);
    l->connect_at_start = [&sig](Listener& self) {
      sig.connect([&self](Source* s, int v) { self.on_value(s, v); });
    };
    h.restart();
    CHECK(sig.disconnect_service(*l) == 3);
  }
  expect_only_other();
  h.stop();
  ho.stop();
  free_rec.reset();
}

TEST_CASE("signals: a receiver connected to a service in its constructor is a clear error" *
          doctest::timeout(10)) {
  value_signal sig{"on_value", "Test"};
  struct Early : mode::Service {
    explicit Early(value_signal& s) { s.connect(this, &Early::on_value); }
    void on_value(Source*, int) {}
  };
  CHECK_THROWS_WITH_AS(std::make_shared<Early>(sig), doctest::Contains("on_start"),
                       std::invalid_argument);
}

// -- failures -----------------------------------------------------------------------------------

TEST_CASE("signals: a throwing receiver is logged with the label; the others run, no crash" *
          doctest::timeout(30)) {
  system_fixture fx;
  log_capture logs{"mode.signals"};
  auto rec = std::make_shared<recorder>();
  value_signal sig{"on_value", "Owner"};
  Source src{"src"};
  auto l = make_listener("l", rec);
  mode::ServiceHandle h{fx.sys, l};
  h.start();
  sig.connect(l, &Listener::on_value_throw);
  sig.connect(l, &Listener::on_value);
  sig.connect(l, [](Listener&, Source*, int) -> task<void> {
    co_await std::suspend_never{};
    throw std::runtime_error("coroutine says no");
  });
  sig.connect(l, &Listener::on_value_later);
  sig.connect([](Source*, int) { throw std::logic_error("inline says no"); });
  sig.connect([rec](Source*, int) { rec->add("inline:after"); });
  auto script = std::make_shared<Script>([&](Script&) -> task<void> {
    co_await sig.send(&src, 1);
    rec->add("resumed");
  });
  mode::ServiceHandle hs{fx.sys, script};
  hs.start();
  auto events = rec->events();
  REQUIRE(events.size() == 4);
  CHECK(events.back() == "resumed");  // l's and the inline receivers run in parallel before it
  std::sort(events.begin(), events.end() - 1);
  CHECK(events == std::vector<std::string>{"inline:after", "l:src:1", "l:src:1", "resumed"});
  CHECK(logs.contains("Signal 'Owner.on_value': receiver #"));
  CHECK(logs.contains("std::runtime_error: listener says no"));
  CHECK(logs.contains("std::runtime_error: coroutine says no"));
  CHECK(logs.contains("std::logic_error: inline says no"));
  CHECK(h.state() == mode::ServiceState::running);
  hs.stop();
  h.stop();
}

TEST_CASE("signals: a service hears signals only while it runs; gone services never hang a send" *
          doctest::timeout(30)) {
  system_fixture fx;
  auto rec = std::make_shared<recorder>();
  value_signal sig{"on_value", "Test"};
  Source src{"src"};
  auto idle = make_listener("idle", rec);  // never started
  auto stopped = make_listener("stopped", rec);
  auto crashed = make_listener("crashed", rec);
  auto live = make_listener("live", rec);
  for (auto& l : {idle, stopped, crashed, live})
    sig.connect(l, &Listener::on_value_later);
  mode::ServiceHandle hi{fx.sys, idle}, hs{fx.sys, stopped}, hc{fx.sys, crashed}, hl{fx.sys, live};
  hs.start();
  hs.stop();
  hc.start();
  hc.crash("boom");
  CHECK(hc.wait_until_stopped(mode::Seconds{10}));
  hl.start();
  auto script = std::make_shared<Script>([&](Script&) -> task<void> {
    co_await sig.send(&src, 1);
    rec->add("resumed");
  });
  mode::ServiceHandle h{fx.sys, script};
  h.start();
  CHECK(rec->events() == std::vector<std::string>{"live:src:1", "resumed"});
  h.stop();
  hl.stop();
  // Restarted, it hears again (and rejoins its groups).
  rec->clear();
  sig.set_transport(signal_transport::groups);
  hs.start();
  sig.send_nowait(&src, 2);
  CHECK(eventually([&] { return rec->events().size() == 1; }));
  CHECK(rec->events() == std::vector<std::string>{"stopped:src:2"});
  hs.stop();
  // Stopped again, it has left the groups it joined while running.
  rec->clear();
  sig.send_nowait(&src, 3);
  std::this_thread::sleep_for(50ms);
  CHECK(rec->events().empty());
}

TEST_CASE("signals: a send awaited by a service that stops is cancelled cleanly" *
          doctest::timeout(30)) {
  system_fixture fx;
  auto rec = std::make_shared<recorder>();
  value_signal sig{"on_value", "Test"};
  Source src{"src"};
  mode::Event never;
  auto l = make_listener("l", rec);
  sig.connect(l, [&never](Listener& self, Source*, int) -> task<void> {
    co_await self.wait_event(never);  // returns when l stops
  });
  mode::ServiceHandle hl{fx.sys, l};
  hl.start();
  struct Sender : mode::Service {
    value_signal* sig;
    Source* src;
    std::shared_ptr<recorder> rec;
    Sender(value_signal* s, Source* x, std::shared_ptr<recorder> r)
        : sig(s), src(x), rec(std::move(r)) {
      add_task("sender", [this]() -> task<void> {
        rec->add("sending");
        co_await sig->send(src, 1);
        rec->add("resumed");
      });
    }
  };
  auto sender = std::make_shared<Sender>(&sig, &src, rec);
  mode::ServiceHandle hs{fx.sys, sender};
  hs.start();
  CHECK(eventually([&] { return rec->count("sending") == 1; }));
  hs.stop();  // the awaiting task is cancelled
  CHECK(rec->count("resumed") == 0);
  hl.stop();  // the receiver's wait returns early: its acknowledgement finds nobody waiting
}

// -- concurrency and the group pool -------------------------------------------------------------

TEST_CASE("signals: sends while receivers connect and disconnect concurrently" *
          doctest::timeout(60)) {
  system_fixture fx;
  auto rec = std::make_shared<recorder>();
  value_signal sig{"on_value", "Test"};
  SUBCASE("direct") {}
  SUBCASE("groups") {
    sig.set_transport(signal_transport::groups);
  }
  Source s1{"s1"}, s2{"s2"};
  std::atomic<int> permanent{0};
  std::atomic<int> churned{0};
  std::vector<std::shared_ptr<Listener>> ls;
  std::vector<mode::ServiceHandle> hs;
  for (int i = 0; i < 3; ++i) {
    ls.push_back(make_listener("l" + std::to_string(i), rec));
    hs.emplace_back(fx.sys, ls.back());
    hs.back().start();
  }
  sig.connect(ls[0], [&permanent](Listener&, Source*, int) { ++permanent; });
  constexpr int sends = 2000;
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (auto* src : {&s1, &s2})
    threads.emplace_back([&, src] {
      for (int i = 0; i < sends; ++i)
        sig.send_nowait(src, i);
    });
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&, t] {
      int i = 0;
      while (!done.load()) {
        auto& target = ls[static_cast<std::size_t>(1 + (i++ + t) % 2)];
        value_signal::options opts;
        if (i % 2 == 0)
          opts.sender = (t == 0 ? &s1 : &s2);
        auto id = sig.connect(
            target, [&churned](Listener&, Source*, int) { ++churned; }, opts);
        auto weak = sig.connect(
            std::weak_ptr<Listener>{target}, [&churned](Listener&, Source*, int) { ++churned; },
            opts);
        std::this_thread::yield();
        sig.disconnect(id);
        sig.disconnect(weak);
      }
    });
  threads[0].join();
  threads[1].join();
  done = true;
  threads[2].join();
  threads[3].join();
  CHECK(eventually([&] { return permanent.load() == 2 * sends; }));
  CHECK(sig.registry().size() == 1);
  for (auto& h : hs)
    h.stop();
}

TEST_CASE("signals: no group leak after 10,000 signals are created and destroyed" *
          doctest::timeout(120)) {
  system_fixture fx;
  auto rec = std::make_shared<recorder>();
  Source src{"src"};
  Source other{"other"};
  std::atomic<int> heard{0};
  auto l = make_listener("l", rec);
  std::weak_ptr<Listener> gone = l;
  {
    mode::ServiceHandle h{fx.sys, l};
    h.start();
    auto before = mode::signal_group_pool_stats(fx.sys);
    constexpr int n = 10000;
    for (int i = 0; i < n; ++i) {
      value_signal sig{"on_value", "Test"};
      sig.set_transport(signal_transport::groups);
      sig.connect(l, [&heard](Listener&, Source*, int) { ++heard; });  // unfiltered
      sig.connect(l, [&heard](Listener&, Source*, int) { ++heard; }, {.sender = &src});  // filtered
      sig.send_nowait(&src, i);
      if (i % 2 == 0)
        sig.send_nowait(&other, i);
      // Bounded in-flight work: the pool is bounded by the signals alive at once.
      REQUIRE(eventually([&] { return heard.load() == 2 * (i + 1) + (i / 2 + 1); }));
    }
    CHECK(
        eventually([&] { return mode::signal_group_pool_stats(fx.sys).in_use == before.in_use; }));
    auto after = mode::signal_group_pool_stats(fx.sys);
    // Not 20,000. A signal's groups live until its last message has been handled and
    // freed, which may be a little after its receivers ran, so a few signals' names
    // (2 each) are out at once while the next ones are made.
    CHECK(after.created - before.created <= 32);
    CHECK(mode::detail::signal_current_service() == nullptr);
    h.stop();
  }
  l.reset();
  // The stopped service left every group: nothing keeps it alive.
  CHECK(eventually([&] { return gone.expired(); }));
}
