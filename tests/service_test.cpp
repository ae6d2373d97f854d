// Service lifecycle: hook order, children, stop/restart, crash propagation.
#include <doctest/doctest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>

#include "../actors/service_actor.hpp"
#include "mode/service.hpp"
#include "mode/service_handle.hpp"
#include "mode/supervisors.hpp"
#include "test_support.hpp"

using namespace std::chrono_literals;
using mode::ServiceState;
using mode::task;
using mode::testing::recorder;
using mode::testing::system_fixture;

namespace {

class Recorded : public mode::Service {
 public:
  Recorded(std::string name, std::shared_ptr<recorder> rec) : name_(std::move(name)), rec_(rec) {}
  std::string label() const override { return name_; }
  task<void> on_first_start() override {
    rec_->add(name_ + ".on_first_start");
    co_return;
  }
  task<void> on_start() override {
    rec_->add(name_ + ".on_start");
    co_return;
  }
  task<void> on_started() override {
    rec_->add(name_ + ".on_started");
    co_return;
  }
  task<void> on_stop() override {
    rec_->add(name_ + ".on_stop");
    co_return;
  }
  task<void> on_shutdown() override {
    rec_->add(name_ + ".on_shutdown");
    co_return;
  }
  task<void> on_restart() override {
    rec_->add(name_ + ".on_restart");
    co_return;
  }

 protected:
  std::string name_;
  std::shared_ptr<recorder> rec_;
};

}  // namespace

TEST_CASE(
    "mode: test_service.py::test_start_stop_simple: hooks in mode's order, children in order, "
    "stopped in reverse" *
    doctest::timeout(30)) {
  system_fixture fx;
  auto rec = std::make_shared<recorder>();
  auto root = std::make_shared<Recorded>("root", rec);
  root->add_dependency(std::make_shared<Recorded>("a", rec));
  root->add_dependency(std::make_shared<Recorded>("b", rec));
  mode::ServiceHandle h{fx.sys, root};
  CHECK(h.state() == ServiceState::init);
  h.start();
  CHECK(h.state() == ServiceState::running);
  h.stop();
  CHECK(h.state() == ServiceState::shutdown);
  std::vector<std::string> expected{"root.on_first_start", "root.on_start", "a.on_first_start",
                                    "a.on_start",          "a.on_started",  "b.on_first_start",
                                    "b.on_start",          "b.on_started",  "root.on_started",
                                    "root.on_stop",        "b.on_stop",     "b.on_shutdown",
                                    "a.on_stop",           "a.on_shutdown", "root.on_shutdown"};
  CHECK(rec->events() == expected);
}

namespace {

// mode's tests/functional/test_service.py: X, Y, Z and Complex.
class X : public Recorded {
 public:
  using Recorded::Recorded;
};

class Context {
 public:
  Context(std::shared_ptr<recorder> rec, std::string name) : rec_(rec), name_(std::move(name)) {
    rec_->add(name_ + ".acquired");
  }
  ~Context() { rec_->add(name_ + ".released"); }

 private:
  std::shared_ptr<recorder> rec_;
  std::string name_;
};

class AsyncContext {
 public:
  explicit AsyncContext(std::shared_ptr<recorder> rec) : rec_(std::move(rec)) {}
  task<void> aenter() {
    rec_->add("async.acquired");
    co_return;
  }
  task<void> aexit() {
    rec_->add("async.released");
    co_return;
  }

 private:
  std::shared_ptr<recorder> rec_;
};

class Complex : public Recorded {
 public:
  Complex(std::shared_ptr<recorder> rec) : Recorded("Complex", rec) {
    wait_for_shutdown = true;
    add_task(&Complex::background, "Complex.background");
    add_dependency(std::make_shared<X>("x", rec));
    add_dependency(std::make_shared<X>("y", rec));
  }
  task<void> on_start() override {
    add_context(std::make_unique<Context>(rec_, "sync"));
    co_await add_async_context(std::make_unique<AsyncContext>(rec_));
    co_await Recorded::on_start();
  }
  task<void> background() {
    struct cleanup {
      Complex* self;
      ~cleanup() {
        self->rec_->add("background.cleanup");
        self->set_shutdown();
      }
    } guard{this};
    rec_->add("background.begin");
    while (!should_stop())
      co_await sleep(10s);
  }
};

}  // namespace

TEST_CASE(
    "mode: test_service.py::test_start_stop_restart_complex: contexts once per cycle, cleanup sets "
    "shutdown" *
    doctest::timeout(30)) {
  system_fixture fx;
  auto rec = std::make_shared<recorder>();
  mode::ServiceHandle h{fx.sys, std::make_shared<Complex>(rec)};
  for (int cycle = 0; cycle < 3; ++cycle) {
    if (cycle == 0)
      h.start();
    else
      h.restart();
    // The background task begins on a later turn of the actor.
    for (int i = 0; i < 500 && rec->count("background.begin") <= static_cast<std::size_t>(cycle);
         ++i)
      std::this_thread::sleep_for(1ms);
    auto cycles = static_cast<std::size_t>(cycle + 1);
    CHECK(rec->count("sync.acquired") == cycles);
    CHECK(rec->count("async.acquired") == cycles);
    CHECK(rec->count("background.begin") == cycles);
    CHECK(rec->count("sync.released") == cycles - 1);
    CHECK(rec->count("async.released") == cycles - 1);
    CHECK(rec->count("background.cleanup") == cycles - 1);
  }
  h.stop();
  CHECK(h.state() == ServiceState::shutdown);
  CHECK(rec->count("sync.released") == 3);
  CHECK(rec->count("async.released") == 3);
  CHECK(rec->count("background.cleanup") == 3);
  CHECK(rec->count("Complex.on_restart") == 2);
  CHECK(h.service()->restart_count() == 2);
  auto ev = rec->events();
  auto pos = [&](const std::string& e) {
    return std::find(ev.begin(), ev.end(), e) - ev.begin();
  };
  // Contexts unwind in reverse, after children stopped, before on_shutdown.
  CHECK(pos("y.on_shutdown") < pos("async.released"));
  CHECK(pos("async.released") < pos("sync.released"));
  CHECK(pos("sync.released") < pos("Complex.on_shutdown"));
}

namespace {

class Crasher : public Recorded {
 public:
  using Recorded::Recorded;
  bool crash_in_start = false;
  bool crash_in_stop = false;
  task<void> on_start() override {
    co_await Recorded::on_start();
    if (crash_in_start)
      throw std::runtime_error("boom in on_start");
  }
  task<void> on_stop() override {
    co_await Recorded::on_stop();
    if (crash_in_stop)
      throw std::runtime_error("boom in on_stop");
  }
};

class Sleeper : public Recorded {
 public:
  Sleeper(std::string name, std::shared_ptr<recorder> rec) : Recorded(std::move(name), rec) {
    add_task(&Sleeper::run, "Sleeper.run");
  }
  std::atomic<bool> go_crash{false};
  task<void> run() {
    rec_->add(name_ + ".run");
    while (!should_stop()) {
      co_await sleep(5ms);
      if (go_crash)
        throw std::runtime_error(name_ + " task failed");
    }
  }
};

}  // namespace

TEST_CASE(
    "mode: unit/test_services.py::test__execute_task__exception, test__execute_task__RuntimeError: "
    "a crash in a leaf takes its tree down, with the reason as a chain" *
    doctest::timeout(30)) {
  system_fixture fx;
  auto rec = std::make_shared<recorder>();
  auto head = std::make_shared<Recorded>("head", rec);
  auto middle = head->add_dependency(std::make_shared<Recorded>("middle", rec));
  auto leaf = middle->add_dependency(std::make_shared<Sleeper>("leaf", rec));
  auto sibling = head->add_dependency(std::make_shared<Recorded>("sibling", rec));
  mode::ServiceHandle h{fx.sys, head};
  h.start();
  leaf->go_crash = true;
  REQUIRE(h.wait_until_stopped(20s));
  CHECK(h.state() == ServiceState::crashed);
  CHECK(rec->count("sibling.on_shutdown") == 1);
  CHECK(rec->count("leaf.on_shutdown") == 1);
  CHECK(rec->count("middle.on_shutdown") == 1);
  CHECK(rec->count("head.on_shutdown") == 1);
  auto reason = mode::describe_exception(head->crash_reason());
  CHECK(reason == "middle <- leaf <- std::runtime_error: leaf task failed");
  // What each service reads (docs/porting-guide.md, "Crash reasons in a tree"): the one
  // that failed its own exception, each parent above it the chain from its child down,
  // and the services a crashed parent takes down the parent's name before its chain.
  CHECK(mode::describe_exception(leaf->crash_reason()) == "std::runtime_error: leaf task failed");
  CHECK(mode::describe_exception(middle->crash_reason()) ==
        "leaf <- std::runtime_error: leaf task failed");
  CHECK(mode::describe_exception(sibling->crash_reason()) ==
        "head <- middle <- leaf <- std::runtime_error: leaf task failed");
}

TEST_CASE(
    "mode: test_service.py::test_crash_leaf, test_crash_middle, test_crash_head: the whole tree "
    "crashes" *
    doctest::timeout(60)) {
  for (const std::string where : {"leaf", "middle", "head"}) {
    CAPTURE(where);
    system_fixture fx;
    auto rec = std::make_shared<recorder>();
    auto head = std::make_shared<Recorded>("head", rec);
    auto middle = head->add_dependency(std::make_shared<Recorded>("middle", rec));
    auto leaf = middle->add_dependency(std::make_shared<Recorded>("leaf", rec));
    auto sibling = head->add_dependency(std::make_shared<Recorded>("sibling", rec));
    mode::ServiceHandle h{fx.sys, head};
    h.start();
    auto target = where == "leaf" ? leaf : where == "middle" ? middle : head;
    // White box: crash a child directly, as a crash inside it would.
    caf::anon_send(target->binding()->get(), mode::detail::crash_atom::value,
                   std::string{"crash " + where});
    REQUIRE(h.wait_until_stopped(20s));
    for (auto& svc : {head, middle, leaf, sibling}) {
      CAPTURE(svc->label());
      CHECK(svc->crashed());
      CHECK(rec->count(svc->label() + ".on_shutdown") == 1);
    }
    auto reason = mode::describe_exception(head->crash_reason());
    CHECK(reason.find("crash " + where) != std::string::npos);
  }
}

TEST_CASE(
    "mode: unit/test_services.py::test__actually_start__rasies_exc: an exception in on_start "
    "crashes the service and fails start()" *
    doctest::timeout(30)) {
  system_fixture fx;
  auto rec = std::make_shared<recorder>();
  auto svc = std::make_shared<Crasher>("c", rec);
  svc->crash_in_start = true;
  mode::ServiceHandle h{fx.sys, svc};
  CHECK_THROWS_WITH_AS(h.start(), "c <- std::runtime_error: boom in on_start",
                       mode::ServiceCrashed);
  REQUIRE(h.wait_until_stopped(20s));
  CHECK(h.state() == ServiceState::crashed);
  CHECK(rec->count("c.on_shutdown") == 1);
  // Restart after the crash: a new actor, reset service, a clean start.
  svc->crash_in_start = false;
  h.restart();
  CHECK(h.state() == ServiceState::running);
  CHECK(svc->restart_count() == 1);
  h.stop();
  CHECK(h.state() == ServiceState::shutdown);
}

TEST_CASE("an exception in on_stop is logged, the stop still completes" * doctest::timeout(30)) {
  system_fixture fx;
  auto rec = std::make_shared<recorder>();
  auto svc = std::make_shared<Crasher>("c", rec);
  svc->crash_in_stop = true;
  mode::testing::log_capture logs;
  mode::ServiceHandle h{fx.sys, svc};
  h.start();
  h.stop();
  REQUIRE(h.wait_until_stopped(20s));
  CHECK(rec->count("c.on_shutdown") == 1);
  CHECK(h.state() == ServiceState::crashed);
  CHECK(logs.contains("[^c]: Error in on_stop: std::runtime_error: boom in on_stop"));
}

TEST_CASE("stop twice is a no-op; stop before start does nothing" * doctest::timeout(30)) {
  system_fixture fx;
  auto rec = std::make_shared<recorder>();
  mode::ServiceHandle h{fx.sys, std::make_shared<Recorded>("s", rec)};
  h.stop();
  CHECK(h.state() == ServiceState::init);
  h.start();
  h.stop();
  h.stop();
  CHECK(rec->count("s.on_stop") == 1);
  CHECK(h.state() == ServiceState::shutdown);
}

namespace {

class SlowStart : public Recorded {
 public:
  using Recorded::Recorded;
  task<void> on_start() override {
    co_await Recorded::on_start();
    co_await sleep(30s);  // returns early once stopped
    rec_->add(name_ + ".woke");
  }
};

}  // namespace

TEST_CASE(
    "mode: unit/test_services.py::test__actually_start__third_stop: stop while starting: the start "
    "returns early, children never start" *
    doctest::timeout(30)) {
  system_fixture fx;
  auto rec = std::make_shared<recorder>();
  auto svc = std::make_shared<SlowStart>("slow", rec);
  svc->add_dependency(std::make_shared<Recorded>("child", rec));
  mode::ServiceHandle h{fx.sys, svc};
  std::thread starter{[&] {
    h.start();
  }};
  for (int i = 0; i < 1000 && rec->count("slow.on_start") == 0; ++i)
    std::this_thread::sleep_for(1ms);
  h.stop();
  starter.join();
  CHECK(rec->count("slow.woke") == 1);
  CHECK(rec->count("child.on_start") == 0);
  CHECK(rec->count("slow.on_started") == 0);
  CHECK(h.state() == ServiceState::shutdown);
}

TEST_CASE(
    "mode: test_service.py::test_mundane_level__default: mundane_level decides the level of "
    "Starting..." *
    doctest::timeout(30)) {
  system_fixture fx;
  auto rec = std::make_shared<recorder>();
  mode::testing::log_capture logs;
  auto svc = std::make_shared<Recorded>("quiet", rec);
  svc->mundane_level = spdlog::level::debug;
  auto loud = std::make_shared<Recorded>("loud", rec);
  mode::ServiceHandle a{fx.sys, svc};
  mode::ServiceHandle b{fx.sys, loud};
  a.start();
  b.start();
  a.stop();
  b.stop();
  CHECK(logs.contains("debug [^quiet]: Starting..."));
  CHECK(logs.contains("info [^loud]: Starting..."));
  CHECK_FALSE(logs.contains("info [^quiet]: Starting..."));
}

TEST_CASE("1,000 services start and stop" * doctest::timeout(60)) {
  system_fixture fx;
  auto rec = std::make_shared<recorder>();
  auto root = std::make_shared<Recorded>("root", rec);
  for (int i = 0; i < 1000; ++i)
    root->add_dependency(std::make_shared<Sleeper>("s", rec));
  root->logger()->set_level(spdlog::level::warn);
  mode::ServiceHandle h{fx.sys, root};
  h.start();
  h.stop();
  root->logger()->set_level(spdlog::level::info);
  CHECK(rec->count("s.on_shutdown") == 1000);
  CHECK(h.state() == ServiceState::shutdown);
}

namespace {

class Dynamic : public Recorded {
 public:
  Dynamic(std::shared_ptr<recorder> rec, mode::ServiceHandle other)
      : Recorded("dynamic", rec), other_(std::move(other)) {}
  task<void> on_started() override {
    // A runtime dependency starts at once, because this service already started.
    late_ = std::make_shared<Recorded>("late", rec_);
    co_await add_runtime_dependency(late_);
    rec_->add(std::string{"late is child: "} + (children().size() == 1 ? "yes" : "no"));
    // Another service, driven through its handle from inside this coroutine.
    co_await other_.async_start();
    rec_->add("other started");
  }
  task<void> on_stop() override {
    co_await remove_dependency(late_);
    rec_->add(std::string{"children left: "} + std::to_string(children().size()));
    co_await other_.async_stop();
  }

 private:
  mode::ServiceHandle other_;
  std::shared_ptr<mode::Service> late_;
};

}  // namespace

TEST_CASE(
    "mode: test_service.py::test_remove_dependency, unit/test_services.py::"
    "test_add_runtime_dependency__when_started, test_remove_dependency: runtime dependencies, "
    "handles awaited from a service" *
    doctest::timeout(30)) {
  system_fixture fx;
  auto rec = std::make_shared<recorder>();
  mode::ServiceHandle other{fx.sys, std::make_shared<Recorded>("other", rec)};
  mode::ServiceHandle h{fx.sys, std::make_shared<Dynamic>(rec, other)};
  h.start();
  CHECK(rec->count("late.on_started") == 1);
  CHECK(rec->count("late is child: yes") == 1);
  CHECK(rec->count("other started") == 1);
  CHECK(other.state() == ServiceState::running);
  h.stop();
  CHECK(rec->count("late.on_shutdown") == 1);
  CHECK(rec->count("children left: 0") == 1);
  CHECK(other.state() == ServiceState::shutdown);
}

namespace {

class Contexts : public Recorded {
 public:
  using Recorded::Recorded;
  task<void> on_start() override {
    add_context(std::make_unique<Context>(rec_, "sync1"));
    co_await add_async_context(std::make_unique<AsyncContext>(rec_));
    add_context(std::make_unique<Context>(rec_, "sync2"));
  }
};

}  // namespace

TEST_CASE("contexts of both kinds unwind newest first, interleaved as they were entered" *
          doctest::timeout(30)) {
  system_fixture fx;
  auto rec = std::make_shared<recorder>();
  mode::ServiceHandle h{fx.sys, std::make_shared<Contexts>("c", rec)};
  h.start();
  h.stop();
  CHECK(rec->events() ==
        std::vector<std::string>{"c.on_first_start", "sync1.acquired", "async.acquired",
                                 "sync2.acquired", "c.on_started", "c.on_stop", "sync2.released",
                                 "async.released", "sync1.released", "c.on_shutdown"});
}

TEST_CASE("a service stopped for good lets its actor go; a new start gets a fresh actor" *
          doctest::timeout(30)) {
  system_fixture fx;
  auto rec = std::make_shared<recorder>();
  auto root = std::make_shared<Recorded>("root", rec);
  auto child = root->add_dependency(std::make_shared<Recorded>("child", rec));
  mode::ServiceHandle h{fx.sys, root};
  h.start();
  auto first = root->binding()->get();
  auto first_child = child->binding()->get();
  REQUIRE(first);
  REQUIRE(first_child);
  h.stop();
  // Answered once the actor has gone (so that what the caller sends next finds none).
  CHECK_FALSE(root->binding()->get());
  CHECK(h.state() == ServiceState::shutdown);  // read from the object: no actor to ask
  CHECK(h.wait_until_stopped(1.0));
  h.stop();  // a no-op, as for any stopped service
  h.start();
  CHECK(h.state() == ServiceState::running);
  CHECK(root->restart_count() == 1);
  CHECK(root->binding()->get() != first);
  auto second_child = child->binding()->get();
  REQUIRE(second_child);
  CHECK(second_child != first_child);
  CHECK(child->state() == ServiceState::running);
  h.restart();  // restart in place keeps the actor
  CHECK(root->restart_count() == 2);
  h.stop();
  CHECK(rec->count("child.on_start") == 3);
  CHECK(rec->count("child.on_shutdown") == 3);
}

TEST_CASE("a parent killed outright takes its running children down with it" *
          doctest::timeout(30)) {
  system_fixture fx;
  auto rec = std::make_shared<recorder>();
  auto root = std::make_shared<Recorded>("root", rec);
  auto child = root->add_dependency(std::make_shared<Sleeper>("child", rec));
  mode::ServiceHandle h{fx.sys, root};
  h.send_start();
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (rec->count("child.run") == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  REQUIRE(rec->count("child.run") == 1);
  auto child_actor = child->binding()->get();
  REQUIRE(child_actor);
  caf::scoped_actor self{fx.sys};
  self->monitor(child_actor);
  caf::anon_send_exit(root->binding()->get(), caf::exit_reason::kill);
  bool down = false;
  self->receive([&](caf::down_msg&) { down = true; }, caf::after(20s) >> [] {});
  CHECK(down);  // nothing linked them: the parent's exit told the child
}

namespace {

/// Renames itself from a task on its own actor: a label() that reads state its actor
/// writes. Anything calling label() from another thread while it runs races on name_
/// (ThreadSanitizer reports it), so the framework must print the label read at spawn.
class Renamer : public mode::Service {
 public:
  Renamer() {
    add_task("rename", [this]() -> task<void> {
      for (int n = 1; !should_stop(); ++n) {
        name_ = "Renamer#" + std::to_string(n);
        renamed = true;
        co_await sleep(0.001);
        if (n == crash_at)
          throw std::runtime_error("renamed too often");
      }
    });
  }
  std::string label() const override { return name_; }
  std::atomic<bool> renamed{false};
  int crash_at = 0;  // 0: never

 protected:
  std::string name_ = "Renamer";
};

/// Renames itself in on_stop, then waits for a set_shutdown() that never comes: whoever
/// gives up on its stop names it while its actor still holds it.
class Stubborn : public Renamer {
 public:
  Stubborn() {
    name_ = "Stubborn";
    wait_for_shutdown = true;
    shutdown_timeout = std::chrono::seconds{20};
  }
  task<void> on_stop() override {
    name_ = "Stubborn-stopping";
    co_return;
  }
};

}  // namespace

TEST_CASE(
    "off its actor, a service's label is the one read at spawn: handles, parents and "
    "supervisors never call label() while it runs" *
    doctest::timeout(60)) {
  system_fixture fx;
  mode::testing::log_capture logs{"mode.supervisors"};
  mode::SupervisorOptions opts;
  opts.stop_timeout = mode::Seconds{0.3};
  auto sup = std::make_shared<mode::OneForOneSupervisor>(opts);
  auto child = std::make_shared<Renamer>();
  child->crash_at = 20;
  sup->add(child);
  sup->add(std::make_shared<Stubborn>());
  auto watched = std::make_shared<Renamer>();
  mode::ServiceHandle h{fx.sys, watched};
  mode::ServiceHandle hs{fx.sys, sup};
  h.start();
  hs.start();
  while (!watched->renamed)
    std::this_thread::sleep_for(1ms);
  for (int i = 0; i < 50; ++i) {
    CHECK(h.label() == "Renamer");
    CHECK(h.state() == ServiceState::running);
  }
  // The supervisor restarts the child (each restart reads the label at the new spawn);
  // its log line names the crashed child by the label read at its last spawn.
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!logs.contains("Restarting dead Renamer") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  CHECK(logs.contains("Restarting dead Renamer"));
  hs.stop();
  // Stubborn renamed itself in on_stop and is still in its stop when the supervisor
  // gives up on it.
  CHECK(logs.contains("Timed out stopping Stubborn after"));
  CHECK_FALSE(logs.contains("Stubborn-stopping"));
  h.stop();
  // Stopped, the object is the caller's again: label() reads what the task last wrote.
  CHECK(watched->label().starts_with("Renamer#"));
}
