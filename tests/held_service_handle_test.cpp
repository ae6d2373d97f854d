// Handles on services that another service runs: a supervisor's slots (handle(index),
// handle(label)) and children (handle_of). They follow restarts onto fresh actors and
// objects, never spawn an actor of their own, and fail clearly once the slot is gone.
// On a threaded system: these are the blocking calls of plain threads.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <thread>

#include "mode/errors.hpp"
#include "mode/service.hpp"
#include "mode/service_handle.hpp"
#include "mode/service_scope.hpp"
#include "mode/supervisors.hpp"
#include "mode/testing.hpp"

using namespace std::chrono_literals;
using mode::ServiceState;

namespace {

class Counter : public mode::Service {
 public:
  std::string label() const override { return "Counter"; }
};

class Other : public mode::Service {
 public:
  std::string label() const override { return "Other"; }
};

class Parent : public mode::Service {
 public:
  Parent() { child = add_dependency(std::make_shared<Counter>()); }
  std::shared_ptr<Counter> child;
};

/// True once `pred` holds, polling for at most 10 s.
bool eventually(const std::function<bool()>& pred) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

}  // namespace

TEST_CASE("a supervisor's handle(index) follows its slot across restarts on fresh actors" *
          doctest::timeout(60)) {
  mode::testing::system_fixture fx;
  mode::ServiceScope scope{fx.sys};
  auto sup = std::make_shared<mode::OneForOneSupervisor>();
  auto counter = std::make_shared<Counter>();
  sup->add(counter);
  auto held = sup->handle(0);  // before the start: no actor yet
  CHECK(held.label() == "Counter");
  CHECK(held.state() == ServiceState::init);
  CHECK_NOTHROW(held.stop());  // nothing runs: stopped
  CHECK_THROWS_WITH_AS(held.start(), doctest::Contains("Counter has no actor now"),
                       mode::ServiceNotRunning);
  scope.add(mode::ServiceHandle{fx.sys, sup}).start();
  REQUIRE(eventually([&] { return static_cast<bool>(held.actor()); }));
  auto first = held.actor();
  CHECK(held.state() == ServiceState::running);
  held.crash("asked to");
  // The supervisor restarts it on a fresh actor; the same handle reaches that one.
  REQUIRE(eventually([&] { return held.actor() && !(held.actor() == first); }));
  REQUIRE(eventually([&] { return held.state() == ServiceState::running; }));
  CHECK(held.service() == counter);
  CHECK(counter->restart_count() == 1);
  held.restart();
  CHECK(counter->restart_count() == 2);
}

TEST_CASE("a handle on a slot with a factory follows it to each fresh object" *
          doctest::timeout(60)) {
  mode::testing::system_fixture fx;
  mode::ServiceScope scope{fx.sys};
  auto sup = std::make_shared<mode::OneForOneSupervisor>();
  sup->add(mode::ServiceFactory{[] {
    return std::make_shared<Counter>();
  }});
  auto held = sup->handle("Counter");
  scope.add(mode::ServiceHandle{fx.sys, sup}).start();
  REQUIRE(eventually([&] { return held.state() == ServiceState::running; }));
  auto before = held.service();
  held.crash("asked to");
  REQUIRE(eventually([&] { return held.service() != before; }));
  REQUIRE(eventually([&] { return held.state() == ServiceState::running; }));
  CHECK(held.service()->restart_count() == 1);
}

TEST_CASE("handle() names what it cannot find, and a discarded slot fails clearly" *
          doctest::timeout(60)) {
  auto sup = std::make_shared<mode::OneForOneSupervisor>();
  sup->add(std::make_shared<Counter>(), std::make_shared<Other>());
  CHECK_THROWS_WITH_AS((void)sup->handle(2),
                       doctest::Contains(".handle(2): no such index (holding 2)"),
                       std::out_of_range);
  CHECK_THROWS_WITH_AS((void)sup->handle("Nobody"),
                       doctest::Contains(".handle(\"Nobody\"): holds no service of that label"),
                       std::out_of_range);
  auto other = sup->handle("Other");
  CHECK(other.service() == sup->services()[1]);
  sup->discard(sup->services()[1]);
  CHECK_THROWS_WITH_AS((void)other.state(), "mode: Other was discarded from its supervisor",
                       mode::ServiceNotRunning);
  CHECK_THROWS_AS((void)other.service(), mode::ServiceNotRunning);
  auto counter = sup->handle(0);
  sup.reset();
  CHECK_THROWS_WITH_AS(counter.stop(), "mode: Counter is gone with its supervisor",
                       mode::ServiceNotRunning);
}

TEST_CASE("handle_of reaches a child from a plain thread, and never spawns one" *
          doctest::timeout(60)) {
  mode::testing::system_fixture fx;
  mode::ServiceScope scope{fx.sys};
  auto parent = scope.spawn<Parent>();
  auto child = mode::handle_of(static_cast<Parent&>(*parent.service()).child);
  CHECK(child.state() == ServiceState::init);
  parent.start();
  CHECK(child.state() == ServiceState::running);
  child.stop();  // for good: its actor ends
  REQUIRE(eventually([&] { return !child.actor(); }));
  CHECK(child.state() == ServiceState::shutdown);
  CHECK_THROWS_WITH_AS(child.start(), doctest::Contains("has no actor now"),
                       mode::ServiceNotRunning);
  CHECK(!child.actor());  // no unwatched actor was made for it
  CHECK(parent.state() == ServiceState::running);
  CHECK_THROWS_AS((void)mode::handle_of(nullptr), std::invalid_argument);
}

TEST_CASE("child_handle reaches a parent's children by index and by label" * doctest::timeout(60)) {
  mode::testing::system_fixture fx;
  mode::ServiceScope scope{fx.sys};
  auto parent = scope.spawn<Parent>();
  parent.start();
  const auto& object = *parent.service();
  auto by_index = mode::child_handle(object, 0);
  auto by_label = mode::child_handle(object, "Counter");
  CHECK(by_index.service() == static_cast<const Parent&>(object).child);
  CHECK(by_label.service() == by_index.service());
  CHECK(by_label.state() == ServiceState::running);
  CHECK_THROWS_WITH_AS((void)mode::child_handle(object, 1),
                       doctest::Contains("has no child #1 (it has 1)"), std::out_of_range);
  CHECK_THROWS_WITH_AS((void)mode::child_handle(object, "Nobody"),
                       doctest::Contains("has no child labelled \"Nobody\""), std::out_of_range);
}
