// mode::ServiceScope: leaving a scope (by an exception, too) stops what it holds within
// its bound, so the actor system's destructor returns. Each case runs its system on a
// thread of its own and waits for it with a deadline: a regression shows as a failed
// check, not as a suite that hangs.
#include "mode/service_scope.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/send.hpp>

#include "mode/errors.hpp"
#include "mode/request.hpp"
#include "mode/service.hpp"
#include "mode/supervisors.hpp"
#include "mode/testing.hpp"

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

/// Runs until stopped; says when its stop sequence ran.
class Idle : public mode::Service {
 public:
  Idle() {
    add_task("Idle.run", [this]() -> mode::task<void> {
      while (!should_stop())
        co_await sleep(1h);
    });
  }
  std::atomic<bool> stopped{false};

 private:
  mode::task<void> on_stop() override {
    stopped = true;
    co_return;
  }
};

/// Its on_stop waits an hour for an answer that never comes.
class Stubborn : public mode::Service {
 public:
  explicit Stubborn(caf::actor silent) : silent_(std::move(silent)) {}
  std::atomic<bool> stop_began{false};
  std::atomic<bool> stop_ended{false};

 private:
  mode::task<void> on_stop() override {
    stop_began = true;
    co_await mode::request<int>(silent_, 1h, 1);
    stop_ended = true;
  }
  caf::actor silent_;
};

/// Takes requests and never answers them.
caf::behavior silent_actor(caf::event_based_actor* self, int) {
  auto held = std::make_shared<std::vector<caf::response_promise>>();
  return {[self, held](int) {
    held->push_back(self->make_response_promise());
    return held->back();
  }};
}

/// Runs `body` on a thread with its own actor system (destroyed there, at the end of
/// body's scope); true if all of it finished within `deadline`.
bool finishes_within(std::chrono::seconds deadline,
                     std::function<void(caf::actor_system&, caf::actor silent)> body) {
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  std::thread{[done, body = std::move(body)] {
    {
      caf::actor_system_config cfg;
      cfg.set("scheduler.max-threads", 2);
      caf::actor_system sys{cfg};
      auto silent = sys.spawn(silent_actor, 0);
      struct ender {
        caf::actor a;
        ~ender() { caf::anon_send_exit(a, caf::exit_reason::kill); }
      } end_silent{silent};
      body(sys, silent);
    }
    done->set_value();
  }}.detach();
  // On a timeout the thread is left hanging in ~actor_system; the process exits anyway.
  return finished.wait_for(deadline) == std::future_status::ready;
}

}  // namespace

TEST_CASE("an exception out of a scope stops its services, killing one past its bound" *
          doctest::timeout(120)) {
  std::shared_ptr<Idle> idle;
  std::shared_ptr<Stubborn> stubborn;
  std::string caught;
  bool logged = false;
  auto t0 = steady::now();
  bool finished = finishes_within(60s, [&](caf::actor_system& sys, caf::actor silent) {
    mode::testing::log_capture log{"mode.scope"};
    try {
      mode::ServiceScope scope{sys};
      idle = std::make_shared<Idle>();
      scope.add(mode::ServiceHandle{sys, idle}).start();
      stubborn = std::make_shared<Stubborn>(silent);
      stubborn->shutdown_timeout = 500ms;  // its bound: read when added
      scope.add(mode::ServiceHandle{sys, stubborn}).start();
      throw std::runtime_error("a failed check");
    } catch (const std::runtime_error& e) {
      caught = e.what();
    }
    logged = log.contains("error Timed out stopping Stubborn after 0.5s: killing it");
  });
  REQUIRE(finished);
  CHECK(caught == "a failed check");
  CHECK(idle->stopped);
  CHECK(stubborn->stop_began);
  CHECK_FALSE(stubborn->stop_ended);  // killed mid-stop
  CHECK(logged);
  // The bound (0.5 s) plus a kill: far below the hour on_stop asked for.
  CHECK(steady::now() - t0 < 30s);
}

TEST_CASE("a killed supervisor takes the services it holds with it" * doctest::timeout(120)) {
  std::shared_ptr<Stubborn> held;
  std::size_t killed = 0;
  bool finished = finishes_within(60s, [&](caf::actor_system& sys, caf::actor silent) {
    // The supervisor would wait 60 s for its Stubborn; the scope waits 0.5 s, then
    // kills it: the Stubborn must not be left running (the system would wait for it).
    mode::ServiceScope scope{sys, 500ms};
    held = std::make_shared<Stubborn>(silent);
    auto sup = std::make_shared<mode::OneForOneSupervisor>();
    sup->add(held);
    scope.spawn<mode::OneForOneSupervisor>();  // an idle one, stopped in time
    scope.add(mode::ServiceHandle{sys, sup}).start();
    killed = scope.stop_all();
    CHECK(scope.services().empty());
  });
  REQUIRE(finished);
  CHECK(killed == 1);
  CHECK(held->stop_began);
  CHECK_FALSE(held->stop_ended);
}

TEST_CASE("services that stop in time are stopped in reverse order, none killed" *
          doctest::timeout(120)) {
  std::vector<int> order;
  std::mutex mtx;
  class Recorder : public mode::Service {
   public:
    Recorder(int id, std::vector<int>& order, std::mutex& mtx)
        : id_(id), order_(order), mtx_(mtx) {}

   private:
    mode::task<void> on_stop() override {
      std::lock_guard<std::mutex> guard{mtx_};
      order_.push_back(id_);
      co_return;
    }
    int id_;
    std::vector<int>& order_;
    std::mutex& mtx_;
  };
  std::size_t killed = 99;
  bool finished = finishes_within(60s, [&](caf::actor_system& sys, caf::actor) {
    mode::ServiceScope scope{sys};
    for (int i = 1; i <= 3; ++i)
      scope.spawn<Recorder>(i, order, mtx).start();
    auto never_started = scope.spawn<Recorder>(4, order, mtx);
    killed = scope.stop_all();
  });
  REQUIRE(finished);
  CHECK(killed == 0);
  CHECK(order == std::vector<int>{3, 2, 1});  // the one never started has no stop to run
}

TEST_CASE(
    "mode: unit/test_services.py::test_aenter: started inside the scope, stopped and shut down "
    "at its end" *
    doctest::timeout(120)) {
  class Logged : public mode::Service {
   public:
    std::atomic<int> started{0};
    std::atomic<int> stopped{0};
    std::atomic<int> shut_down{0};

   private:
    mode::task<void> on_started() override {
      ++started;
      co_return;
    }
    mode::task<void> on_stop() override {
      ++stopped;
      co_return;
    }
    mode::task<void> on_shutdown() override {
      ++shut_down;
      co_return;
    }
  };
  auto svc = std::make_shared<Logged>();
  int started_inside = -1;
  int stopped_inside = -1;
  bool finished = finishes_within(60s, [&](caf::actor_system& sys, caf::actor) {
    mode::ServiceScope scope{sys};
    scope.add(mode::ServiceHandle{sys, svc}).start();
    started_inside = svc->started;
    stopped_inside = svc->stopped;
  });
  REQUIRE(finished);
  CHECK(started_inside == 1);
  CHECK(stopped_inside == 0);
  CHECK(svc->stopped == 1);
  CHECK(svc->shut_down == 1);
  CHECK(svc->state() == mode::ServiceState::shutdown);
}

TEST_CASE("ServiceScope refuses what it cannot do, naming it" * doctest::timeout(30)) {
  SUBCASE("on CAF's test coordinator") {
    mode::testing::virtual_time_fixture fx;
    CHECK_THROWS_WITH_AS(mode::ServiceScope{fx.sys}, doctest::Contains("on a plain thread"),
                         std::logic_error);
  }
  SUBCASE("bad arguments") {
    mode::testing::system_fixture fx;
    CHECK_THROWS_WITH_AS(mode::ServiceScope(fx.sys, -1), doctest::Contains("negative"),
                         std::invalid_argument);
    mode::ServiceScope scope{fx.sys};
    CHECK_THROWS_WITH_AS(scope.add(mode::ServiceHandle{}), doctest::Contains("empty"),
                         std::invalid_argument);
    mode::testing::system_fixture other;
    auto elsewhere = mode::spawn<Idle>(other.sys);
    CHECK_THROWS_WITH_AS(scope.add(elsewhere), doctest::Contains("another actor system"),
                         std::invalid_argument);
    CHECK(scope.services().empty());
  }
}
