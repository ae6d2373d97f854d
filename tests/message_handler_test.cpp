// A service's own message handlers (Service::add_handler) and requests to them:
// co_await mode::request from another service, ServiceHandle::request from a plain
// thread, CAF's request from a plain actor; what each error is, and that a blocking
// handle call on an actor's thread is refused.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>

#include "mode/request.hpp"
#include "mode/service_handle.hpp"
#include "test_support.hpp"

using namespace std::chrono_literals;
using mode::testing::system_fixture;

namespace {

using get_atom = caf::atom_constant<caf::atom("get")>;
using add_atom = caf::atom_constant<caf::atom("add")>;
using slow_atom = caf::atom_constant<caf::atom("slow")>;
using boom_atom = caf::atom_constant<caf::atom("boom")>;
using pair_atom = caf::atom_constant<caf::atom("pair")>;
using reset_atom = caf::atom_constant<caf::atom("reset")>;
using ask_atom = caf::atom_constant<caf::atom("ask")>;
using block_atom = caf::atom_constant<caf::atom("block")>;

using counter_actor = caf::typed_actor<caf::replies_to<get_atom>::with<int>,
                                       caf::replies_to<add_atom, int>::with<int>>;

class Counter : public mode::Service {
 public:
  Counter() {
    add_handler([this](get_atom) { return count_; });
    add_handler(&Counter::add);
    add_handler([this](reset_atom) { count_ = 0; });
    add_handler(
        [this](pair_atom, const std::string& tag) { return std::make_tuple(count_, tag + "!"); });
    add_handler([](boom_atom) -> int { throw std::invalid_argument("bad key"); });
    add_handler(&Counter::slow);
  }

 private:
  int add(add_atom, int n) { return count_ += n; }
  // A coroutine handler: answered when it finishes, after a sleep on the actor clock.
  mode::task<int> slow(slow_atom, int n) {
    co_await sleep(std::chrono::duration<double>(n / 1000.0));
    co_return count_ + n;
  }
  int count_ = 0;
};

/// Asks a Counter from its own coroutine handler, and keeps what came back.
class Asker : public mode::Service {
 public:
  explicit Asker(mode::ServiceHandle counter) : counter_(std::move(counter)) {
    add_handler(&Asker::ask);
    add_handler(&Asker::block);
  }

 private:
  mode::task<std::string> ask(ask_atom, int what) {
    switch (what) {
      case 0: {
        int n = co_await mode::request<int>(counter_, 5s, add_atom::value, 2);
        auto typed = mode::typed_actor<counter_actor>(counter_);
        int m = co_await mode::request(typed, 5s, get_atom::value);  // int, deduced
        co_return "add=" + std::to_string(n) + " get=" + std::to_string(m);
      }
      case 1: {
        auto [n, tag] = co_await mode::request<std::tuple<int, std::string>>(
            counter_, 5s, pair_atom::value, std::string{"x"});
        co_return std::to_string(n) + tag;
      }
      case 2:
        try {
          co_await mode::request<int>(counter_, 5s, boom_atom::value);
        } catch (const mode::RequestError& e) {
          co_return std::string{"RequestError: "} + e.what();
        }
        co_return "no error";
      case 3:
        try {
          co_await mode::request<int>(counter_, 20ms, slow_atom::value, 5000);
        } catch (const mode::TimeoutError& e) {
          co_return std::string{"TimeoutError: "} + e.what();
        }
        co_return "no timeout";
      default:
        co_await mode::request(counter_, 5s, reset_atom::value);
        co_return "reset";
    }
  }
  // A blocking handle call on this actor's thread: refused at once.
  std::string block(block_atom) {
    try {
      counter_.start();
    } catch (const std::logic_error& e) {
      return e.what();
    }
    return "not refused";
  }
  mode::ServiceHandle counter_;
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("ServiceHandle::request: plain and coroutine handlers answer with their results" *
          doctest::timeout(60)) {
  system_fixture fx;
  auto counter = mode::spawn<Counter>(fx.sys);
  counter.start();
  CHECK(counter.request<int>(5s, get_atom::value) == 0);
  CHECK(counter.request<int>(5s, add_atom::value, 3) == 3);
  CHECK(counter.request<int>(5s, add_atom::value, 4) == 7);
  auto [n, tag] =
      counter.request<std::tuple<int, std::string>>(5s, pair_atom::value, std::string{"t"});
  CHECK(n == 7);
  CHECK(tag == "t!");
  CHECK(counter.request<int>(5s, slow_atom::value, 10) == 17);  // after a 10 ms sleep
  counter.request(5s, reset_atom::value);                       // void: an empty reply
  CHECK(counter.request<int>(5s, get_atom::value) == 0);
  counter.stop();
}

TEST_CASE("request errors are typed: handler threw, no handler, wrong reply type, timeout" *
          doctest::timeout(60)) {
  system_fixture fx;
  auto counter = mode::spawn<Counter>(fx.sys);
  counter.start();
  try {
    counter.request<int>(5s, boom_atom::value);
    FAIL("no error");
  } catch (const mode::RequestError& e) {
    CHECK(contains(e.what(), "Counter <- std::invalid_argument: bad key"));
  }
  // The service keeps running after a handler threw: the requester had the exception.
  CHECK(counter.state() == mode::ServiceState::running);
  try {
    counter.request<int>(5s, std::string{"what is this"});
    FAIL("no error");
  } catch (const mode::RequestError& e) {
    CHECK(contains(e.what(), "no handler"));
  }
  try {
    counter.request<std::string>(5s, get_atom::value);
    FAIL("no error");
  } catch (const mode::RequestError& e) {
    CHECK(contains(e.what(), "is not a std::string"));
  }
  try {
    counter.request<int>(50ms, slow_atom::value, 10'000);
    FAIL("no error");
  } catch (const mode::TimeoutError& e) {
    CHECK(contains(e.what(), "Counter.request() timed out after"));
  }
  counter.stop();
}

TEST_CASE("a service that is not running answers ServiceNotRunning, never nothing" *
          doctest::timeout(60)) {
  system_fixture fx;
  auto counter = mode::spawn<Counter>(fx.sys);
  try {
    counter.request<int>(5s, get_atom::value);  // not started
    FAIL("no error");
  } catch (const mode::ServiceNotRunning& e) {
    CHECK(contains(e.what(), "Counter is not running (state: init)"));
  }
  counter.start();
  counter.stop();  // a stop for good: its actor is gone
  CHECK_THROWS_AS(counter.request<int>(5s, get_atom::value), mode::ServiceNotRunning);
}

TEST_CASE("a coroutine handler destroyed before it answered (actor killed) still answers" *
          doctest::timeout(60)) {
  system_fixture fx;
  auto counter = mode::spawn<Counter>(fx.sys);
  counter.start();
  caf::scoped_actor self{fx.sys};
  caf::error failure;
  bool answered = false;
  auto pending = self->request(counter.actor(), std::chrono::seconds{30}, slow_atom::value, 60'000);
  // (A stop would not do: sleep returns early when the service stops, and the handler
  // then answers with its result.)
  caf::anon_send_exit(counter.actor(), caf::exit_reason::kill);
  pending.receive([&](int) { answered = true; },
                  [&](caf::error& err) { failure = std::move(err); });
  CHECK_FALSE(answered);
  REQUIRE(failure);
  CHECK_THROWS_WITH_AS(mode::detail::throw_request_error(failure, "slow", std::nullopt),
                       doctest::Contains("Counter stopped before it answered"),
                       mode::ServiceNotRunning);
}

TEST_CASE("co_await mode::request from another service: values, tuples, typed handles, errors" *
          doctest::timeout(60)) {
  system_fixture fx;
  auto counter = mode::spawn<Counter>(fx.sys);
  counter.start();
  auto asker = mode::spawn<Asker>(fx.sys, counter);
  asker.start();
  CHECK(asker.request<std::string>(10s, ask_atom::value, 0) == "add=2 get=2");
  CHECK(asker.request<std::string>(10s, ask_atom::value, 1) == "2x!");
  auto threw = asker.request<std::string>(10s, ask_atom::value, 2);
  CHECK(contains(threw, "RequestError: mode: request"));
  CHECK(contains(threw, "Counter <- std::invalid_argument: bad key"));
  auto timed_out = asker.request<std::string>(10s, ask_atom::value, 3);
  CHECK(contains(timed_out, "TimeoutError: mode: request"));
  CHECK(contains(timed_out, "timed out after"));
  CHECK(asker.request<std::string>(10s, ask_atom::value, 4) == "reset");
  CHECK(counter.request<int>(5s, get_atom::value) == 0);
  asker.stop();
  counter.stop();
}

TEST_CASE("a plain CAF actor requests a service with CAF's own request" * doctest::timeout(60)) {
  system_fixture fx;
  auto counter = mode::spawn<Counter>(fx.sys);
  counter.start();
  auto typed = mode::typed_actor<counter_actor>(counter);
  caf::scoped_actor self{fx.sys};
  int result = 0;
  self->request(typed, std::chrono::seconds{5}, add_atom::value, 40)
      .receive([&](int n) { result = n; }, [&](caf::error& err) { FAIL(caf::to_string(err)); });
  CHECK(result == 40);
  counter.stop();
}

TEST_CASE("blocking ServiceHandle calls on an actor's thread are refused at once" *
          doctest::timeout(60)) {
  system_fixture fx;
  auto counter = mode::spawn<Counter>(fx.sys);
  auto asker = mode::spawn<Asker>(fx.sys, counter);
  asker.start();
  auto refused = asker.request<std::string>(10s, block_atom::value);
  CHECK(contains(refused, "ServiceHandle::start() on Counter was called on an actor's thread"));
  CHECK(contains(refused, "co_await async_start()"));
  // A plain CAF actor on the scheduler is refused too.
  // (CAF 0.17.6 spawns a function without arguments through a null tuple pointer,
  // which UBSan reports: the handle travels as an argument.)
  auto plain = fx.sys.spawn(
      [](caf::event_based_actor*, mode::ServiceHandle counter) -> caf::behavior {
        return {[counter](block_atom) -> std::string {
          try {
            counter.stop();
          } catch (const std::logic_error& e) {
            return e.what();
          }
          return "not refused";
        }};
      },
      counter);
  caf::scoped_actor self{fx.sys};
  std::string text;
  self->request(plain, std::chrono::seconds{5}, block_atom::value)
      .receive([&](std::string& s) { text = s; },
               [&](caf::error& err) { FAIL(caf::to_string(err)); });
  CHECK(contains(text, "ServiceHandle::stop() on Counter"));
  caf::anon_send_exit(plain, caf::exit_reason::user_shutdown);
  asker.stop();
}

TEST_CASE("co_await mode::request off a service's actor is a logic_error naming the fix" *
          doctest::timeout(10)) {
  system_fixture fx;
  auto counter = mode::spawn<Counter>(fx.sys);
  CHECK_THROWS_WITH_AS((void)mode::request<int>(counter, 1s, get_atom::value),
                       doctest::Contains("from a plain thread use ServiceHandle::request"),
                       std::logic_error);
}
