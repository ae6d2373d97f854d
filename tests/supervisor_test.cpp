// Supervisors: mode's functional scenarios (tests/functional/test_supervisors.py: each
// case named "mode: test_supervisors.py::<test>" is one of them), the
// restart limit on virtual time, escalation, replacement, stale down messages, crash
// during start, a restart storm, and stop while a restart is in progress.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <atomic>
#include <thread>

#include "mode/service_handle.hpp"
#include "mode/supervisors.hpp"
#include "test_support.hpp"

// The actor layer's private crash message: the way to crash a service that only its
// supervisor holds (mode's `await service.crash(exc)` from the test).
#include "../actors/service_actor.hpp"

using namespace std::chrono_literals;
using mode::ServiceState;
using mode::task;
using mode::testing::log_capture;
using mode::testing::recorder;
using mode::testing::system_fixture;
using mode::testing::virtual_time_fixture;

namespace {

// -- driving the virtual-time system ---------------------------------------------------------

void start(virtual_time_fixture& fx, const mode::ServiceHandle& h) {
  h.send_start();
  fx.run();
}

void stop(virtual_time_fixture& fx, const mode::ServiceHandle& h) {
  h.send_stop();
  fx.run();
}

/// Crashes `svc` on its actor with a ServiceCrashed carrying `reason`, then runs.
void crash(virtual_time_fixture& fx, const mode::Service& svc, std::string reason) {
  caf::anon_send(svc.binding()->get(), mode::detail::crash_atom::value, std::move(reason));
  fx.run();
}

caf::actor_clock::time_point now(virtual_time_fixture& fx) {
  return fx.sched.clock().now();
}

// -- mode's StatService, X, Y, Z -----------------------------------------------------------

/// Counts its starts, stops and restarts (mode's StatService).
class StatService : public mode::Service {
 public:
  explicit StatService(std::string name, std::shared_ptr<recorder> rec = nullptr)
      : name_(std::move(name)), rec_(std::move(rec)) {}
  std::string label() const override { return name_; }
  task<void> on_start() override {
    ++started_count;
    note("start");
    co_return;
  }
  task<void> on_stop() override {
    ++stopped_count;
    note("stop");
    co_return;
  }
  task<void> on_restart() override {
    ++restart_hooks;
    co_return;
  }
  std::atomic<int> started_count{0};
  std::atomic<int> stopped_count{0};
  std::atomic<int> restart_hooks{0};

 protected:
  void note(const char* what) {
    if (rec_)
      rec_->add(name_ + "." + what);
  }
  std::string name_;
  std::shared_ptr<recorder> rec_;
};

class Y : public StatService {
 public:
  explicit Y(std::shared_ptr<recorder> rec = nullptr) : StatService("Y", rec) {
    x = add_dependency(std::make_shared<StatService>("X", rec));
  }
  std::shared_ptr<StatService> x;
};

struct mode_setup {
  std::shared_ptr<mode::SupervisorStrategy> sup;
  std::shared_ptr<Y> y;
  std::shared_ptr<StatService> z;
};

template <class Supervisor>
mode_setup setup_supervisor(mode::SupervisorOptions opts = {}) {
  mode_setup s;
  s.sup = std::make_shared<Supervisor>(std::move(opts));
  s.y = std::make_shared<Y>();
  s.z = std::make_shared<StatService>("Z");
  s.sup->add(s.y);
  s.sup->add(s.z);
  return s;
}

void check_started(const mode_setup& s) {
  CHECK(s.y->supervisor == s.sup.get());
  CHECK(s.z->supervisor == s.sup.get());
  CHECK(s.y->started_count == 1);
  CHECK(s.z->started_count == 1);
  CHECK(s.y->x->started_count == 1);
  CHECK(s.sup->state() == ServiceState::running);
}

}  // namespace

// -- mode's functional tests ------------------------------------------------------------------

TEST_CASE("mode: test_supervisors.py::test_OneForOneSupervisor: restarts the crashed service only" *
          doctest::timeout(30)) {
  virtual_time_fixture fx;
  auto s = setup_supervisor<mode::OneForOneSupervisor>();
  mode::ServiceHandle h{fx.sys, s.sup};
  start(fx, h);
  check_started(s);
  fx.advance(100ms);
  crash(fx, *s.z, "KeyError()");
  fx.advance(1s);
  CHECK(s.y->stopped_count == 0);
  CHECK(s.z->stopped_count == 1);
  CHECK(s.z->started_count == 2);
  CHECK(s.z->restart_count() == 1);
  CHECK(s.z->restart_hooks == 1);  // mode's restart(): on_restart runs
  CHECK(s.y->started_count == 1);
  CHECK(s.y->x->started_count == 1);
  CHECK(s.z->state() == ServiceState::running);
  stop(fx, h);
  CHECK(s.z->stopped_count == 2);
  CHECK(s.y->stopped_count == 1);
  CHECK(s.sup->state() == ServiceState::shutdown);
}

TEST_CASE(
    "mode: test_supervisors.py::test_ForfeitOneForOneSupervisor: stops the crashed service, gives "
    "up" *
    doctest::timeout(30)) {
  virtual_time_fixture fx;
  log_capture logs{"mode.supervisors"};
  auto s = setup_supervisor<mode::ForfeitOneForOneSupervisor>();
  mode::ServiceHandle h{fx.sys, s.sup};
  start(fx, h);
  check_started(s);
  fx.advance(100ms);
  crash(fx, *s.z, "KeyError()");
  fx.advance(1s);
  CHECK(s.y->stopped_count == 0);
  CHECK(s.z->stopped_count == 1);
  CHECK(s.y->started_count == 1);
  CHECK(s.z->started_count == 1);
  CHECK(logs.contains("critical [^ForfeitOneForOneSupervisor]: Giving up on crashed services: Z"));
  // Given up: a wakeup does not start it again.
  s.sup->wakeup();
  fx.run();
  CHECK(s.z->started_count == 1);
  stop(fx, h);
  CHECK(s.y->stopped_count == 1);
  CHECK(s.z->stopped_count == 1);
}

TEST_CASE("mode: test_supervisors.py::test_ForfeitOneForAllSupervisor: stops all, gives up on all" *
          doctest::timeout(30)) {
  virtual_time_fixture fx;
  log_capture logs{"mode.supervisors"};
  auto s = setup_supervisor<mode::ForfeitOneForAllSupervisor>();
  mode::ServiceHandle h{fx.sys, s.sup};
  start(fx, h);
  check_started(s);
  fx.advance(100ms);
  crash(fx, *s.z, "KeyError()");
  fx.advance(1s);
  CHECK(s.y->stopped_count == 1);
  CHECK(s.y->x->stopped_count == 1);
  CHECK(s.z->stopped_count == 1);
  CHECK(s.y->started_count == 1);
  CHECK(s.z->started_count == 1);
  CHECK(logs.contains("Giving up on all services in group because Z crashed"));
  stop(fx, h);
  CHECK(s.y->stopped_count == 1);
  CHECK(s.z->stopped_count == 1);
  CHECK(s.sup->state() == ServiceState::shutdown);
}

TEST_CASE("mode: test_supervisors.py::test_OneForAllSupervisor: stops all, restarts all in order" *
          doctest::timeout(30)) {
  virtual_time_fixture fx;
  auto rec = std::make_shared<recorder>();
  auto sup = std::make_shared<mode::OneForAllSupervisor>();
  auto y = std::make_shared<Y>(rec);
  auto z = std::make_shared<StatService>("Z", rec);
  sup->add(y, z);
  mode::ServiceHandle h{fx.sys, sup};
  start(fx, h);
  fx.advance(100ms);
  rec->clear();
  auto y_actor = y->binding()->get();
  auto z_actor = z->binding()->get();
  crash(fx, *z, "KeyError()");
  fx.advance(1s);
  // The group restarts in place; only the crashed one, whose actor exited, gets a new one.
  CHECK(y->binding()->get() == y_actor);
  CHECK(z->binding()->get() != z_actor);
  CHECK(y->restart_count() == 1);
  CHECK(y->stopped_count == 1);
  CHECK(y->x->stopped_count == 1);
  CHECK(z->stopped_count == 1);
  CHECK(y->state() == ServiceState::running);
  CHECK(y->x->state() == ServiceState::running);
  CHECK(y->started_count == 2);
  CHECK(y->x->started_count == 2);
  CHECK(z->started_count == 2);
  // z crashed (its stop ran first); y then stopped (and x inside it); restart in order.
  std::vector<std::string> expected{"Z.stop", "Y.stop", "X.stop", "Y.start", "X.start", "Z.start"};
  CHECK(rec->events() == expected);
  stop(fx, h);
  CHECK(y->stopped_count == 2);
  CHECK(y->x->stopped_count == 2);
  CHECK(z->stopped_count == 2);
}

// -- logs, labels, settings -----------------------------------------------------------------------

TEST_CASE("restart log line names the service and the crash chain" * doctest::timeout(30)) {
  virtual_time_fixture fx;
  log_capture logs{"mode.supervisors"};
  auto s = setup_supervisor<mode::OneForOneSupervisor>();
  mode::ServiceHandle h{fx.sys, s.sup};
  start(fx, h);
  crash(fx, *s.y->x, "KeyError('k')");  // x is y's child: y crashes with it
  CHECK(s.y->started_count == 2);
  CHECK(s.y->x->started_count == 2);
  CHECK(
      logs.contains("info [^OneForOneSupervisor]: Restarting dead Y! Last crash reason: "
                    "Y <- X <- KeyError('k')"));
  stop(fx, h);
}

TEST_CASE("label is mode's <Class>: (<n>@<address>); shortlabel the class" * doctest::timeout(10)) {
  auto s = setup_supervisor<mode::OneForAllSupervisor>();
  auto label = s.sup->label();
  CHECK(label.rfind("OneForAllSupervisor: (2@0x", 0) == 0);
  CHECK(label.back() == ')');
  CHECK(s.sup->shortlabel() == "OneForAllSupervisor");
}

TEST_CASE("settings: defaults as mode, bad values rejected naming them" * doctest::timeout(10)) {
  mode::OneForOneSupervisor sup;
  CHECK(sup.max_restarts() == 100.0);
  CHECK(sup.over() == 1.0);
  CHECK(sup.stop_timeout == mode::Seconds{60});
  mode::SupervisorOptions rated;
  rated.max_restarts = "10/m";  // mode's want_seconds: a rate string
  rated.over = 2min;
  mode::OneForOneSupervisor sup2{rated};
  CHECK(sup2.max_restarts() == doctest::Approx(10.0 / 60));
  CHECK(sup2.over() == 120.0);
  mode::SupervisorOptions off;
  off.max_restarts = std::nullopt;
  CHECK(mode::OneForOneSupervisor{off}.max_restarts() == std::numeric_limits<double>::infinity());
  mode::SupervisorOptions bad;
  bad.max_restarts = -1;
  CHECK_THROWS_WITH_AS(mode::OneForOneSupervisor{bad},
                       "RestartLimiter: max_restarts must be >= 0, got -1", std::invalid_argument);
  mode::SupervisorOptions zero;
  zero.over = 0;
  CHECK_THROWS_WITH_AS(mode::OneForOneSupervisor{zero},
                       "RestartLimiter: over must be > 0 seconds, got 0s", std::invalid_argument);
  CHECK_THROWS_AS(mode::SupervisorOptions{.over = "abc"}, mode::invalid_seconds);
}

TEST_CASE("mode: unit/test_supervisors.py::test_discard, test_insert: add, discard, insert" *
          doctest::timeout(10)) {
  mode::OneForOneSupervisor sup;
  auto a = std::make_shared<StatService>("a");
  auto b = std::make_shared<StatService>("b");
  auto c = std::make_shared<StatService>("c");
  sup.add(a, b);
  CHECK(sup.index_of(*b) == 1);
  CHECK_THROWS_WITH_AS(sup.add(a), doctest::Contains("add(a): already held"),
                       std::invalid_argument);
  CHECK_THROWS_AS(sup.add(std::shared_ptr<mode::Service>{}), std::invalid_argument);
  sup.insert(0, c);
  CHECK(sup.services() == std::vector<std::shared_ptr<mode::Service>>{c, b});
  CHECK(a->supervisor == nullptr);
  CHECK(c->supervisor == &sup);
  CHECK_THROWS_WITH_AS(sup.insert(5, a), doctest::Contains("insert(5): no such index (holding 2)"),
                       std::out_of_range);
  CHECK_THROWS_WITH_AS(sup.insert(0, b), doctest::Contains("insert(0, b): already held at 1"),
                       std::invalid_argument);
  sup.discard(c);
  CHECK(sup.services() == std::vector<std::shared_ptr<mode::Service>>{b});
  CHECK(c->supervisor == nullptr);
  mode::OneForOneSupervisor other;
  CHECK_THROWS_WITH_AS(other.add(b), doctest::Contains("already has a supervisor"),
                       std::invalid_argument);
}

TEST_CASE("mode: unit/test_supervisors.py::test_discard: several services, as discard(*services)" *
          doctest::timeout(10)) {
  mode::OneForOneSupervisor sup;
  auto a = std::make_shared<StatService>("a");
  auto b = std::make_shared<StatService>("b");
  auto c = std::make_shared<StatService>("c");
  sup.add(a, b, c);
  sup.discard(a, c);
  CHECK(sup.services() == std::vector<std::shared_ptr<mode::Service>>{b});
  CHECK(a->supervisor == nullptr);
  CHECK(c->supervisor == nullptr);
  CHECK(b->supervisor == &sup);
}

// -- the restart limit, on virtual time -------------------------------------------------------

namespace {

/// Crashes `period` after every start while `crashes` > 0 (-1: forever).
class Periodic : public StatService {
 public:
  Periodic(std::string name, std::chrono::nanoseconds period)
      : StatService(std::move(name)), period_(period) {
    add_task(&Periodic::run, "Periodic.run");
  }
  task<void> run() {
    co_await sleep(period_);
    if (!should_stop() && crashes != 0) {
      if (crashes > 0)
        --crashes;
      throw std::runtime_error("boom");
    }
  }
  int crashes = -1;

 private:
  std::chrono::nanoseconds period_;
};

}  // namespace

TEST_CASE("max_restarts: a restart exactly `over` ago has left the window" * doctest::timeout(30)) {
  // Crash every 0.5 s with max_restarts=2 over 1 s: any window (t-1, t] holds at most
  // two restarts, so the supervisor keeps going. (mode's bucket would have refused the
  // second restart: its capacity is `over` = 1 token.)
  virtual_time_fixture fx;
  mode::SupervisorOptions opts;
  opts.max_restarts = 2;
  opts.over = 1s;
  auto sup = std::make_shared<mode::OneForOneSupervisor>(opts);
  auto p = std::make_shared<Periodic>("P", 500ms);
  sup->add(p);
  mode::ServiceHandle h{fx.sys, sup};
  start(fx, h);
  fx.advance(10s);
  CHECK(sup->state() == ServiceState::running);
  CHECK(p->started_count == 21);  // first start + a restart every 0.5 s
  stop(fx, h);
  CHECK(sup->state() == ServiceState::shutdown);
}

TEST_CASE(
    "mode: unit/test_supervisors.py::test_restart_service__max_restarts: more than max_restarts in "
    "`over` fails" *
    doctest::timeout(30)) {
  // Crash every 0.4 s: restarts at 0.4, 0.8, then 1.2 is the third within (0.2, 1.2].
  virtual_time_fixture fx;
  log_capture logs{"mode.supervisors"};
  mode::SupervisorOptions opts;
  opts.max_restarts = 2;
  opts.over = 1s;
  auto sup = std::make_shared<mode::OneForOneSupervisor>(opts);
  auto p = std::make_shared<Periodic>("P", 400ms);
  sup->add(p);
  mode::ServiceHandle h{fx.sys, sup};
  start(fx, h);
  auto t0 = now(fx);
  fx.advance(1199ms);
  CHECK(sup->state() == ServiceState::running);
  CHECK(p->started_count == 3);
  fx.advance(1ms);
  CHECK(now(fx) - t0 == 1200ms);
  CHECK(sup->state() == ServiceState::crashed);
  CHECK(p->started_count == 3);  // the refused restart never started it
  CHECK(p->state() == ServiceState::crashed);
  CHECK(
      logs.contains("warning [^OneForOneSupervisor]: Max restarts exceeded: more than 2 "
                    "restarts within 1s; last crash: P <- std::runtime_error: boom"));
  CHECK(mode::describe_exception(sup->crash_reason()) ==
        "mode::MaxRestartsExceeded: more than 2 restarts within 1s; last crash: P <- "
        "std::runtime_error: boom");
}

namespace {

class MyFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace

TEST_CASE("raises selects what the supervisor fails with" * doctest::timeout(30)) {
  virtual_time_fixture fx;
  mode::SupervisorOptions opts;
  opts.max_restarts = 0;
  opts.raises = mode::raises<MyFailure>();
  auto sup = std::make_shared<mode::OneForOneSupervisor>(opts);
  auto p = std::make_shared<Periodic>("P", 1s);
  sup->add(p);
  mode::ServiceHandle h{fx.sys, sup};
  start(fx, h);
  fx.advance(1s);
  CHECK(sup->state() == ServiceState::crashed);
  CHECK(mode::describe_exception(sup->crash_reason()) ==
        "(anonymous namespace)::MyFailure: more than 0 restarts within 1s; last crash: P <- "
        "std::runtime_error: boom");
}

namespace {

/// A plain service holding a supervisor as an ordinary (linked) child.
class Root : public StatService {
 public:
  explicit Root(std::shared_ptr<mode::Service> child) : StatService("Root") {
    add_dependency(std::move(child));
  }
};

}  // namespace

TEST_CASE("MaxRestartsExceeded escalates: supervisor of supervisor, then the parent" *
          doctest::timeout(30)) {
  virtual_time_fixture fx;
  mode::SupervisorOptions inner_opts;
  inner_opts.max_restarts = 2;
  auto inner = std::make_shared<mode::OneForOneSupervisor>(inner_opts);
  auto p = std::make_shared<Periodic>("P", 100ms);
  inner->add(p);
  mode::SupervisorOptions outer_opts;
  outer_opts.max_restarts = 1;
  auto outer = std::make_shared<mode::OneForOneSupervisor>(outer_opts);
  outer->add(inner);
  auto root = std::make_shared<Root>(outer);
  mode::ServiceHandle h{fx.sys, root};
  start(fx, h);
  CHECK(root->state() == ServiceState::running);
  fx.advance(2s);
  // inner: 3 crashes (2 restarts, the third refused) per life; outer restarts inner
  // once, then refuses; the failure crashes root through the link.
  CHECK(p->started_count == 6);
  CHECK(inner->restart_count() == 1);
  CHECK(outer->state() == ServiceState::crashed);
  CHECK(root->state() == ServiceState::crashed);
  CHECK(mode::describe_exception(root->crash_reason()) ==
        outer->label() +
            " <- mode::MaxRestartsExceeded: more than 1 restarts within 1s; last crash: " +
            inner->label() +
            " <- mode::MaxRestartsExceeded: more than 2 restarts within 1s; last crash: P <- "
            "std::runtime_error: boom");
}

TEST_CASE("a supervisor restarted on a fresh actor supervises what it holds again" *
          doctest::timeout(30)) {
  // inner gives up at the first crash; outer restarts it (on a new actor). q was only
  // stopped, so it is started again where it is: the new actor must monitor it anew.
  virtual_time_fixture fx;
  mode::SupervisorOptions inner_opts;
  inner_opts.max_restarts = 0;
  auto inner = std::make_shared<mode::OneForOneSupervisor>(inner_opts);
  auto q = std::make_shared<StatService>("q");
  auto r = std::make_shared<StatService>("r");
  inner->add(q, r);
  auto outer = std::make_shared<mode::OneForOneSupervisor>();
  outer->add(inner);
  mode::ServiceHandle h{fx.sys, outer};
  start(fx, h);
  crash(fx, *r, "r failed");
  CHECK(inner->restart_count() == 1);
  CHECK(q->started_count == 2);
  CHECK(q->stopped_count == 1);
  crash(fx, *q, "q failed");
  CHECK(inner->restart_count() == 2);
  CHECK(q->started_count == 3);
  CHECK(r->started_count == 3);
  CHECK(inner->state() == ServiceState::running);
  stop(fx, h);
  CHECK(q->state() == ServiceState::shutdown);
}

// -- specs: replacement and factory ---------------------------------------------------------------

TEST_CASE(
    "mode: unit/test_supervisors.py::test_restart_service__replacement: builds the crashed slot's "
    "service" *
    doctest::timeout(30)) {
  virtual_time_fixture fx;
  std::vector<std::pair<mode::Service*, std::size_t>> calls;
  std::vector<std::shared_ptr<StatService>> made;
  mode::SupervisorOptions opts;
  opts.replacement = [&](std::shared_ptr<mode::Service> old,
                         std::size_t index) -> task<std::shared_ptr<mode::Service>> {
    calls.emplace_back(old.get(), index);
    made.push_back(std::make_shared<StatService>(fmt::format("Z{}", made.size() + 2)));
    co_return made.back();
  };
  auto sup = std::make_shared<mode::OneForOneSupervisor>(opts);
  auto a = std::make_shared<StatService>("A");
  auto b = std::make_shared<StatService>("B");
  auto z = std::make_shared<StatService>("Z");
  sup->add(a, b, z);
  mode::ServiceHandle h{fx.sys, sup};
  start(fx, h);
  crash(fx, *z, "first");
  REQUIRE(calls.size() == 1);
  CHECK(calls[0] == std::pair<mode::Service*, std::size_t>{z.get(), 2});
  CHECK(sup->services()[2] == made[0]);
  CHECK(made[0]->state() == ServiceState::running);
  CHECK(made[0]->restart_count() == 1);
  CHECK(made[0]->supervisor == sup.get());
  CHECK(z->supervisor == nullptr);
  crash(fx, *made[0], "second");
  REQUIRE(calls.size() == 2);
  CHECK(calls[1] == std::pair<mode::Service*, std::size_t>{made[0].get(), 2});
  CHECK(made[1]->restart_count() == 2);
  CHECK(made[1]->state() == ServiceState::running);
  CHECK(a->started_count == 1);
  CHECK(b->started_count == 1);
  stop(fx, h);
  CHECK(made[1]->stopped_count == 1);
}

namespace {

std::atomic<int> live_instances{0};

/// Counts live instances; crashes right after start while `crashes_left` > 0.
class Counted : public mode::Service {
 public:
  explicit Counted(std::shared_ptr<std::atomic<int>> crashes_left,
                   std::shared_ptr<std::atomic<int>> starts)
      : crashes_left_(std::move(crashes_left)), starts_(std::move(starts)) {
    ++live_instances;
  }
  ~Counted() override { --live_instances; }
  task<void> on_started() override {
    ++*starts_;
    if (crashes_left_->fetch_sub(1) > 0)
      crash("boom");
    co_return;
  }

 private:
  std::shared_ptr<std::atomic<int>> crashes_left_;
  std::shared_ptr<std::atomic<int>> starts_;
};

}  // namespace

TEST_CASE("a factory spec builds a fresh object per restart; restart_count carries over" *
          doctest::timeout(30)) {
  virtual_time_fixture fx;
  auto crashes = std::make_shared<std::atomic<int>>(3);
  auto starts = std::make_shared<std::atomic<int>>(0);
  {
    auto sup = std::make_shared<mode::OneForOneSupervisor>();
    std::vector<mode::Service*> seen;
    sup->add([&]() -> std::shared_ptr<mode::Service> {
      auto svc = std::make_shared<Counted>(crashes, starts);
      seen.push_back(svc.get());
      return svc;
    });
    mode::ServiceHandle h{fx.sys, sup};
    start(fx, h);
    CHECK(*starts == 4);
    CHECK(seen.size() == 4);
    auto current = sup->services()[0];
    CHECK(current.get() == seen.back());
    CHECK(current->restart_count() == 3);
    CHECK(current->supervisor == sup.get());
    CHECK(current->state() == ServiceState::running);
    stop(fx, h);
  }
  fx.run();
  CHECK(live_instances == 0);
}

// -- down messages
// ------------------------------------------------------------------------------------

TEST_CASE("a stale down message never restarts the newer instance" * doctest::timeout(30)) {
  virtual_time_fixture fx;
  log_capture logs{"mode.supervisors"};
  auto s = setup_supervisor<mode::OneForOneSupervisor>();
  mode::ServiceHandle h{fx.sys, s.sup};
  start(fx, h);
  auto old_addr = s.z->binding()->get().address();
  crash(fx, *s.z, "first");
  REQUIRE(s.z->started_count == 2);
  auto current = s.z->binding()->get();
  REQUIRE(current.address() != old_addr);
  // What CAF 0.17.6 may deliver late (after demonitor, or twice): a down message about
  // the instance that was already replaced.
  caf::anon_send(h.actor(), caf::down_msg{old_addr, mode::detail::make_crash_error("stale")});
  fx.run();
  CHECK(s.z->started_count == 2);
  CHECK(s.z->binding()->get() == current);
  CHECK(logs.contains("Ignoring a down message about a previous instance: stale"));
  CHECK(s.z->state() == ServiceState::running);
  stop(fx, h);
}

namespace {

class FailingStart : public StatService {
 public:
  FailingStart(std::string name, int failures)
      : StatService(std::move(name)), failures_(failures) {}
  task<void> on_start() override {
    co_await StatService::on_start();
    if (failures_ != 0) {
      if (failures_ > 0)
        --failures_;
      throw std::runtime_error("cannot start");
    }
  }

 private:
  int failures_;
};

}  // namespace

TEST_CASE("a crash during start is restarted like any crash, and counted" * doctest::timeout(30)) {
  virtual_time_fixture fx;
  SUBCASE("it recovers") {
    auto sup = std::make_shared<mode::OneForOneSupervisor>();
    auto f = std::make_shared<FailingStart>("F", 2);
    auto other = std::make_shared<StatService>("O");
    sup->add(f, other);
    mode::ServiceHandle h{fx.sys, sup};
    start(fx, h);
    CHECK(sup->state() == ServiceState::running);  // a child's failed start is contained
    CHECK(f->started_count == 3);
    CHECK(f->restart_count() == 2);
    CHECK(f->state() == ServiceState::running);
    CHECK(other->started_count == 1);
    stop(fx, h);
    CHECK(f->stopped_count == 3);  // two crashed stops, one real
  }
  SUBCASE("it never starts: the limit fails the supervisor") {
    mode::SupervisorOptions opts;
    opts.max_restarts = 1;
    auto sup = std::make_shared<mode::OneForOneSupervisor>(opts);
    auto f = std::make_shared<FailingStart>("F", -1);
    sup->add(f);
    mode::ServiceHandle h{fx.sys, sup};
    start(fx, h);
    CHECK(f->started_count == 2);
    CHECK(sup->state() == ServiceState::crashed);
    CHECK(mode::describe_exception(sup->crash_reason()) ==
          "mode::MaxRestartsExceeded: more than 1 restarts within 1s; last crash: F <- "
          "std::runtime_error: cannot start");
  }
}

// -- CrashingSupervisor
// -----------------------------------------------------------------------------

TEST_CASE(
    "mode: unit/test_supervisors.py::test__contribute_to_service: CrashingSupervisor propagates "
    "the crash" *
    doctest::timeout(30)) {
  virtual_time_fixture fx;
  auto s = setup_supervisor<mode::CrashingSupervisor>();
  CHECK(s.y->supervisor == nullptr);
  CHECK(s.z->supervisor == nullptr);
  auto root = std::make_shared<Root>(s.sup);
  mode::ServiceHandle h{fx.sys, root};
  start(fx, h);
  CHECK(s.z->started_count == 1);
  crash(fx, *s.z, "KeyError()");
  CHECK(s.z->started_count == 1);
  CHECK(s.y->stopped_count == 1);
  CHECK(s.sup->state() == ServiceState::crashed);
  CHECK(root->state() == ServiceState::crashed);
  CHECK(mode::describe_exception(root->crash_reason()) == s.sup->label() + " <- Z <- KeyError()");
}

// -- wakeup, add while running, run_until_complete ------------------------------------------------

TEST_CASE("add while running starts the new service (wakeup from any thread)" *
          doctest::timeout(30)) {
  virtual_time_fixture fx;
  auto s = setup_supervisor<mode::OneForOneSupervisor>();
  mode::ServiceHandle h{fx.sys, s.sup};
  start(fx, h);
  auto w = std::make_shared<StatService>("W");
  s.sup->add(w);  // not on the supervisor's actor: wakeup() sends it a message
  CHECK(w->started_count == 0);
  fx.run();
  CHECK(w->started_count == 1);
  CHECK(w->depth() == 2);
  CHECK(w->parent() == s.sup);
  stop(fx, h);
  CHECK(w->stopped_count == 1);
}

namespace {

class Runner : public StatService {
 public:
  explicit Runner(std::shared_ptr<mode::SupervisorStrategy> sup)
      : StatService("Runner"), sup_(std::move(sup)) {}
  task<void> on_start() override {
    co_await sup_->run_until_complete();
    done = true;
  }
  bool done = false;

 private:
  std::shared_ptr<mode::SupervisorStrategy> sup_;
};

}  // namespace

TEST_CASE("mode: unit/test_supervisors.py::test_run_until_complete: starts, then stops" *
          doctest::timeout(30)) {
  virtual_time_fixture fx;
  auto s = setup_supervisor<mode::OneForOneSupervisor>();
  auto runner = std::make_shared<Runner>(s.sup);
  mode::ServiceHandle h{fx.sys, runner};
  start(fx, h);
  CHECK(runner->done);
  CHECK(s.z->started_count == 1);
  CHECK(s.z->stopped_count == 1);
  CHECK(s.y->x->stopped_count == 1);
  CHECK(s.sup->state() == ServiceState::shutdown);
  stop(fx, h);
}

// -- stopping
// ---------------------------------------------------------------------------------------

TEST_CASE("nested supervisors stop everything in reverse order" * doctest::timeout(30)) {
  virtual_time_fixture fx;
  auto rec = std::make_shared<recorder>();
  auto top = std::make_shared<mode::OneForOneSupervisor>();
  auto sub = std::make_shared<mode::OneForAllSupervisor>();
  auto a = std::make_shared<StatService>("a", rec);
  auto b = std::make_shared<StatService>("b", rec);
  auto c = std::make_shared<StatService>("c", rec);
  auto d = std::make_shared<StatService>("d", rec);
  sub->add(b, c);
  top->add(a);
  top->add(sub);
  top->add(d);
  mode::ServiceHandle h{fx.sys, top};
  start(fx, h);
  CHECK(rec->events() == std::vector<std::string>{"a.start", "b.start", "c.start", "d.start"});
  CHECK(b->depth() == 3);
  rec->clear();
  // A crash inside the nested supervisor is handled there (one for all).
  crash(fx, *c, "c failed");
  CHECK(rec->events() == std::vector<std::string>{"c.stop", "b.stop", "b.start", "c.start"});
  CHECK(top->state() == ServiceState::running);
  rec->clear();
  stop(fx, h);
  CHECK(rec->events() == std::vector<std::string>{"d.stop", "c.stop", "b.stop", "a.stop"});
  CHECK(sub->state() == ServiceState::shutdown);
  CHECK(top->state() == ServiceState::shutdown);
}

namespace {

/// Its stop never finishes: on_stop waits for an event nobody sets.
class Hanging : public StatService {
 public:
  Hanging() : StatService("Hanging") {}
  task<void> on_stop() override {
    co_await StatService::on_stop();
    co_await never_.wait();
  }

 private:
  mode::Event never_;
};

}  // namespace

TEST_CASE("a held service that does not stop in time is killed" * doctest::timeout(30)) {
  virtual_time_fixture fx;
  log_capture logs{"mode.supervisors"};
  std::weak_ptr<mode::Service> gone;
  {
    mode::SupervisorOptions opts;
    opts.stop_timeout = 2s;
    auto sup = std::make_shared<mode::OneForOneSupervisor>(opts);
    auto hang = std::make_shared<Hanging>();
    auto z = std::make_shared<StatService>("Z");
    sup->add(hang, z);
    gone = hang;
    mode::ServiceHandle h{fx.sys, sup};
    start(fx, h);
    stop(fx, h);
    CHECK(z->stopped_count == 1);
    CHECK(sup->state() == ServiceState::stopping);
    fx.advance(1999ms);
    CHECK(sup->state() == ServiceState::stopping);
    fx.advance(1ms);
    CHECK(sup->state() == ServiceState::shutdown);
    CHECK(
        logs.contains("error [^OneForOneSupervisor]: Timed out stopping Hanging after 2s: "
                      "killing it"));
    CHECK_FALSE(hang->binding()->get());  // its actor is gone
  }
  fx.run();
  CHECK(gone.expired());  // the killed actor let go of it (no reference cycle left)
}

namespace {

/// Starts slowly: on_start sleeps (returns early on stop).
class SlowStart : public StatService {
 public:
  SlowStart() : StatService("Slow") {}
  task<void> on_start() override {
    co_await StatService::on_start();
    if (started_count > 1)
      co_await sleep(10s);
  }
};

}  // namespace

TEST_CASE("supervisor stop while a restart is in progress" * doctest::timeout(30)) {
  virtual_time_fixture fx;
  SUBCASE("the restarted service is still starting") {
    auto sup = std::make_shared<mode::OneForOneSupervisor>();
    auto slow = std::make_shared<SlowStart>();
    sup->add(slow);
    mode::ServiceHandle h{fx.sys, sup};
    start(fx, h);
    crash(fx, *slow, "boom");
    fx.advance(1s);
    CHECK(slow->started_count == 2);  // restarting: on_start sleeps
    stop(fx, h);
    CHECK(slow->stopped_count == 2);
    CHECK(sup->state() == ServiceState::shutdown);
    fx.advance(20s);
    CHECK(slow->started_count == 2);
    CHECK(slow->state() == ServiceState::shutdown);
  }
  SUBCASE("the replacement is still being built") {
    mode::SupervisorOptions opts;
    int built = 0;
    opts.replacement = [&](std::shared_ptr<mode::Service>,
                           std::size_t) -> task<std::shared_ptr<mode::Service>> {
      // Runs on the supervisor's actor: its sleep returns early when it stops.
      auto* self = mode::detail::running_actor();
      co_await self->service().sleep(5s);
      ++built;
      co_return std::make_shared<StatService>("Z2");
    };
    auto sup = std::make_shared<mode::OneForOneSupervisor>(opts);
    auto z = std::make_shared<StatService>("Z");
    sup->add(z);
    mode::ServiceHandle h{fx.sys, sup};
    start(fx, h);
    crash(fx, *z, "boom");
    fx.advance(1s);
    stop(fx, h);
    fx.advance(10s);
    CHECK(sup->state() == ServiceState::shutdown);
    CHECK(sup->services()[0] == z);  // nothing was started after the stop
    CHECK(z->started_count == 1);
  }
}

// -- the storm
// --------------------------------------------------------------------------------------

TEST_CASE("10,000 restarts: no leak, every instance freed" * doctest::timeout(120)) {
  auto crashes = std::make_shared<std::atomic<int>>(10'000);
  auto starts = std::make_shared<std::atomic<int>>(0);
  auto lg = mode::get_logger("mode.services");
  auto sup_lg = mode::get_logger("mode.supervisors");
  auto old_level = lg->level();
  auto old_sup_level = sup_lg->level();
  lg->set_level(spdlog::level::off);
  sup_lg->set_level(spdlog::level::off);
  {
    system_fixture fx;
    mode::SupervisorOptions opts;
    opts.max_restarts = std::nullopt;
    auto sup = std::make_shared<mode::OneForOneSupervisor>(opts);
    // Two slots: a fresh object per restart, and the same object on fresh actors.
    sup->add([=]() -> std::shared_ptr<mode::Service> {
      return std::make_shared<Counted>(crashes, starts);
    });
    sup->add(std::make_shared<Counted>(crashes, starts));
    mode::ServiceHandle h{fx.sys, sup};
    h.start();
    for (int i = 0; i < 60'000 && *crashes > -2; ++i)
      std::this_thread::sleep_for(1ms);
    CHECK(*starts == 10'002);
    CHECK(sup->state() == ServiceState::running);  // read after the storm calmed down
    h.stop();
    CHECK(h.state() == ServiceState::shutdown);
  }
  lg->set_level(old_level);
  sup_lg->set_level(old_sup_level);
  CHECK(live_instances == 0);
}

TEST_CASE("a supervisor object that outlives its actor lets go of the held actors" *
          doctest::timeout(60)) {
  // As a Worker does: the supervisor object lives on after its actor and the actor system
  // are gone; the system's destructor must not wait for the held services' actors.
  auto held = std::make_shared<mode::Service>();
  auto sup = std::make_shared<mode::OneForOneSupervisor>();
  sup->add(held);
  {
    system_fixture fx;
    {
      mode::ServiceHandle h{fx.sys, sup};
      h.start();
      REQUIRE(held->binding()->get());
      h.stop();
    }
    // Dropping the handle lets the supervisor's actor exit, and with it the held actor.
    for (int i = 0; i < 2000 && held->binding()->get(); ++i)
      std::this_thread::sleep_for(5ms);
    CHECK_FALSE(held->binding()->get());
  }  // ~actor_system returns: nothing is left running
  CHECK(sup->services().size() == 1);
}
