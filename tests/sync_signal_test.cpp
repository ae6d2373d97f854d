// Tests for mode/sync_signal.hpp and mode/base_signal.hpp: SyncSignal, BaseSignal and the receiver
// registry. Ports mode's tests/functional/test_signals.py and checks the port's fixes.
#include "mode/sync_signal.hpp"

#include <doctest/doctest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <variant>
#include <vector>

using namespace std::literals;

namespace {

// -- fixtures ---------------------------------------------------------------------------------

// mode's SyncX: per-instance signals made from class-level ones with with_default_sender(self).
struct SyncX;

using started_signal = mode::SyncSignal<SyncX*>;
using stopped_signal = mode::SyncSignal<SyncX*, int, const std::string&>;

struct SyncX {
  SyncX(const started_signal& cls_started, const stopped_signal& cls_stopped)
      : on_started(cls_started.with_default_sender(this)),
        on_stopped(cls_stopped.with_default_sender(this)) {}

  started_signal on_started;
  stopped_signal on_stopped;
};

// Records calls as strings, so that order and arguments are asserted at once.
std::vector<std::string>* journal = nullptr;

struct journal_scope {
  std::vector<std::string> lines;
  journal_scope() { journal = &lines; }
  ~journal_scope() { journal = nullptr; }
};

void record(std::string line) {
  REQUIRE(journal != nullptr);
  journal->push_back(std::move(line));
}

using int_signal = mode::SyncSignal<std::string, int>;

void free_a(const std::string& sender, int x) {
  record("a:" + sender + ":" + std::to_string(x));
}

void free_b(const std::string& sender, int x, const int_signal& sig) {
  record("b:" + sender + ":" + std::to_string(x) + ":" + sig.name());
}

struct listener {
  std::string name;
  void on(const std::string& sender, int x) {
    record(name + ":" + sender + ":" + std::to_string(x));
  }
  void on_const(const std::string& sender, int x) const {
    record(name + "-const:" + sender + ":" + std::to_string(x));
  }
};

// Redirects the "mode.signals" logger into a ring buffer for the scope.
struct log_capture {
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink =
      std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(16);

  log_capture() {
    spdlog::drop(std::string{mode::signals_logger_name});
    auto logger = std::make_shared<spdlog::logger>(std::string{mode::signals_logger_name}, sink);
    logger->set_pattern("%n %l %v");
    spdlog::register_logger(logger);
  }

  ~log_capture() { spdlog::drop(std::string{mode::signals_logger_name}); }

  std::vector<std::string> lines() { return sink->last_formatted(); }
};

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

// -- compile-time checks ----------------------------------------------------------------------

namespace {

using checked_signal = mode::SyncSignal<SyncX*, int, const std::string&>;

template <class F>
constexpr bool connectable = requires(checked_signal& sig, F f) {
  sig.connect(f);
};

template <class F>
constexpr bool bound_connectable = requires(checked_signal& sig, std::shared_ptr<listener> obj,
                                            F f) {
  sig.connect(obj, f);
};

void good_receiver(SyncX*, int, const std::string&) {}
void good_receiver_with_signal(SyncX*, int, std::string, const checked_signal&) {}
void bad_argument_type(SyncX*, std::vector<int>, const std::string&) {}
void bad_sender_type(std::string, int, const std::string&) {}
void too_few_arguments(SyncX*, int) {}
void wrong_signal_type(SyncX*, int, const std::string&, const int_signal&) {}

}  // namespace

static_assert(connectable<decltype(&good_receiver)>);
static_assert(connectable<decltype(&good_receiver_with_signal)>);
static_assert(connectable<decltype([](SyncX*, int, const std::string&) {})>);
static_assert(connectable<decltype([](auto&&...) {})>);
static_assert(!connectable<decltype(&bad_argument_type)>, "wrong argument type is rejected");
static_assert(!connectable<decltype(&bad_sender_type)>, "wrong sender type is rejected");
static_assert(!connectable<decltype(&too_few_arguments)>, "missing argument is rejected");
static_assert(!connectable<decltype(&wrong_signal_type)>, "wrong signal type is rejected");
static_assert(!connectable<decltype([](SyncX*, int, int) {})>, "lambda with wrong types");
static_assert(!connectable<int>, "not callable");
static_assert(!bound_connectable<void (listener::*)(const std::string&, int)>,
              "member function of the wrong signature is rejected");
static_assert(bound_connectable<decltype([](listener&, SyncX*, int, const std::string&) {})>);
static_assert(
    bound_connectable<decltype([](const std::shared_ptr<listener>&, SyncX*, int, std::string) {})>);
static_assert(mode::SyncSignalT<checked_signal>);
static_assert(mode::SyncSignalT<mode::SyncSignal<int>>);
static_assert(mode::BaseSignalT<int_signal>);
static_assert(!mode::BaseSignalT<int>);
static_assert(!std::is_copy_constructible_v<int_signal>, "copying must say clone or share");
static_assert(std::is_nothrow_move_constructible_v<int_signal>);
static_assert(std::is_same_v<int_signal::sender_param, const std::string&>);
static_assert(std::is_same_v<mode::SyncSignal<SyncX&>::sender_value, SyncX*>);
static_assert(std::is_same_v<mode::SyncSignal<SyncX&>::key_type, const SyncX*>);
static_assert(std::is_same_v<mode::SyncSignal<std::shared_ptr<SyncX>>::key_type, const SyncX*>);

// -- mode's test_signals.py -----------------------------------------------------------------

TEST_CASE("mode: test_signals.py::test_sync_signals" * doctest::timeout(5)) {
  started_signal cls_started{"on_started", "SyncX"};
  stopped_signal cls_stopped{"on_stopped", "SyncX"};
  SyncX x{cls_started, cls_stopped};
  SyncX x2{cls_started, cls_stopped};
  std::vector<SyncX*> started;
  std::vector<std::tuple<SyncX*, int, std::string>> stopped;
  x.on_stopped.connect(
      [&](SyncX* self, int code, const std::string& reason, const stopped_signal& sig) {
        CHECK(&sig == &x.on_stopped);
        stopped.emplace_back(self, code, reason);
      });
  x.on_started.connect([&](SyncX* self, const started_signal& sig) {
    CHECK(&sig == &x.on_started);
    started.push_back(self);
  });
  x.on_started.send();
  CHECK(started == std::vector<SyncX*>{&x});
  x.on_stopped.send(303, "sorry not sorry");
  REQUIRE(stopped.size() == 1);
  CHECK(stopped[0] == std::tuple{&x, 303, "sorry not sorry"s});
  CHECK(started.size() == 1);
  CHECK(x.on_started.ident() == "SyncX.on_started");
  CHECK(x.on_started.label() == "SyncX.on_started");
  CHECK(cls_started.label() == "SyncX.on_started");
  CHECK(to_string(cls_started) == "<SyncSignal: SyncX.on_started>");
  CHECK(contains(to_string(x.on_started), "<SyncSignal: SyncX.on_started sender=0x"));
  x.on_started.set_owner("");
  CHECK(x.on_started.label() == "on_started");
  x.on_started.set_owner("SyncX");
  x.on_started();  // __call__
  CHECK(started.size() == 2);
  // x2 shares the class-level receivers, but those were connected filtered on x.
  x2.on_started.send();
  x2.on_started.send();
  CHECK(started.size() == 2);
  SyncX other{cls_started, cls_stopped};
  auto sig2 = x2.on_started.clone({.default_sender = &other});
  CHECK(sig2.default_sender() == &other);
  auto sig3 = sig2.with_default_sender();
  CHECK(sig3.default_sender() == sig2.default_sender());
  auto sig4 = sig3.with_default_sender(&x);
  CHECK(sig4.default_sender() == &x);
  sig4.set_name("");
  sig4.set_owner_and_name("Sig3", "foo");
  CHECK(sig4.name() == "foo");
  CHECK(sig4.owner() == "Sig3");
  sig4.set_owner_and_name("Sig2", "bar");
  CHECK(sig4.name() == "foo");
  CHECK(sig4.owner() == "Sig2");
}

TEST_CASE("sync signals: unpack_sender and send without sender" * doctest::timeout(5)) {
  mode::SyncSignal<int, int> sig{"sig", "X"};
  SUBCASE("no default sender: std::logic_error naming the signal") {
    CHECK_THROWS_WITH_AS(sig.unpack_sender(), doctest::Contains("'X.sig'"), std::logic_error);
    CHECK_THROWS_WITH_AS(sig.send(2), doctest::Contains("default_sender"), std::logic_error);
    CHECK_THROWS_AS(sig(2), std::logic_error);
  }
  SUBCASE("default sender: used by send(args)") {
    sig.set_default_sender(1);
    CHECK(sig.unpack_sender() == 1);
    int got_sender = 0, got_arg = 0;
    sig.connect([&](int s, int a) { std::tie(got_sender, got_arg) = std::tie(s, a); });
    sig.send(2);
    CHECK(got_sender == 1);
    CHECK(got_arg == 2);
  }
}

TEST_CASE("mode: test_signals.py::test_clone: copies fields but not receivers" *
          doctest::timeout(5)) {
  int_signal sig{"sig", "X"};
  int calls = 0;
  sig.connect([&](const std::string&, int) { ++calls; });
  auto copy = sig.clone();
  CHECK(copy.asdict() == sig.asdict());
  CHECK_FALSE(copy.shares_receivers_with(sig));
  copy.send("s", 1);
  CHECK(calls == 0);
  CHECK(copy.registry().size() == 0);
  auto renamed = sig.clone({.name = "other", .default_sender = "me"});
  CHECK(renamed.name() == "other");
  CHECK(renamed.owner() == "X");
  CHECK(renamed.default_sender() == "me");
  CHECK(sig.with_default_sender("me").asdict() == renamed.clone({.name = "sig"}).asdict());
}

TEST_CASE("mode: test_signals.py::test_with_default_sender: shares the receivers" *
          doctest::timeout(5)) {
  int_signal sig{"sig"};
  auto as_a = sig.with_default_sender("a");
  CHECK(as_a.default_sender() == "a");
  CHECK(as_a.shares_receivers_with(sig));
  journal_scope j;
  sig.connect(&free_a);                           // unfiltered, through the original
  as_a.connect([](const std::string& s, int x) {  // filtered on "a", through the copy
    record("copy:" + s + ":" + std::to_string(x));
  });
  CHECK(sig.registry().size() == 2);
  sig.send("a", 1);  // the original sees the copy's receiver
  sig.send("b", 2);
  as_a.send(3);
  CHECK(j.lines == std::vector<std::string>{"a:a:1", "copy:a:1", "a:b:2", "a:a:3", "copy:a:3"});
}

TEST_CASE("sync signals: a moved-from signal stays usable" * doctest::timeout(5)) {
  int_signal sig{"sig"};
  int calls = 0;
  sig.connect([&](const std::string&, int) { ++calls; });
  int_signal moved{std::move(sig)};
  moved.send("s", 1);
  sig.send("s", 1);  // NOLINT(bugprone-use-after-move): documented as valid
  CHECK(calls == 2);
}

// -- delivery ---------------------------------------------------------------------------------

TEST_CASE("sync signals: receivers run in connect order (fix: mode used set order)" *
          doctest::timeout(5)) {
  int_signal sig{"sig"};
  journal_scope j;
  auto rec = [](std::string tag) {
    return [tag](const std::string& s, int x) {
      record(tag + ":" + s + ":" + std::to_string(x));
    };
  };
  sig.connect(rec("1"));
  sig.connect(rec("2"), {.sender = "a"});
  sig.connect(rec("3"));
  sig.connect(rec("4"), {.sender = "b"});
  sig.connect(rec("5"), {.sender = "a"});
  sig.connect(rec("6"));
  sig.send("a", 0);
  CHECK(j.lines == std::vector<std::string>{"1:a:0", "2:a:0", "3:a:0", "5:a:0", "6:a:0"});
  j.lines.clear();
  sig.send("b", 1);
  CHECK(j.lines == std::vector<std::string>{"1:b:1", "3:b:1", "4:b:1", "6:b:1"});
}

TEST_CASE("sync signals: filtered receivers only hear their sender" * doctest::timeout(5)) {
  int_signal sig{"sig"};
  int all = 0, only_a = 0;
  sig.connect([&](const std::string&, int) { ++all; });
  sig.connect(
      [&](const std::string& s, int) {
        CHECK(s == "a");
        ++only_a;
      },
      {.sender = "a"});
  sig.send("a", 1);
  sig.send("b", 1);
  sig.send("c", 1);
  CHECK(all == 3);
  CHECK(only_a == 1);
  auto receivers = sig.iter_receivers("a");
  CHECK(receivers.size() == 2);
  CHECK(sig.iter_receivers("b").size() == 1);
  CHECK(sig.iter_receivers().size() == 1);
}

TEST_CASE("mode: test_signals.py::test_iter_receivers_no_receivers" * doctest::timeout(5)) {
  int_signal sig;
  CHECK(sig.iter_receivers().empty());
  CHECK(sig.iter_receivers("a").empty());
  CHECK(sig.registry().sender_count() == 0);
}

TEST_CASE("sync signals: filtering is by typed identity (fix: 1, True, 1.0 collided)" *
          doctest::timeout(5)) {
  using sender = std::variant<int, bool, double>;
  mode::SyncSignal<sender> sig{"sig"};
  std::vector<sender> heard;
  sig.connect([&](const sender& s) { heard.push_back(s); }, {.sender = sender{1}});
  sig.send(sender{true});
  sig.send(sender{1.0});
  CHECK(heard.empty());
  sig.send(sender{1});
  CHECK(heard == std::vector<sender>{sender{1}});
}

TEST_CASE("sync signals: pointer, reference and shared_ptr senders filter by address" *
          doctest::timeout(5)) {
  listener a{"a"}, b{"b"};
  SUBCASE("reference sender") {
    mode::SyncSignal<listener&, int> sig{"sig"};
    std::vector<std::string> heard;
    sig.connect([&](listener& s, int) { heard.push_back(s.name); }, {.sender = &a});
    sig.send(b, 1);
    sig.send(a, 1);
    CHECK(heard == std::vector<std::string>{"a"});
    CHECK_THROWS_AS(sig.set_default_sender(nullptr), std::invalid_argument);
    auto as_b = sig.with_default_sender(b);
    CHECK(as_b.default_sender() == &b);
  }
  SUBCASE("shared_ptr sender") {
    auto pa = std::make_shared<listener>(a);
    auto pa2 = std::make_shared<listener>(a);  // equal value, other object
    mode::SyncSignal<std::shared_ptr<listener>> sig{"sig"};
    int calls = 0;
    sig.connect([&](const std::shared_ptr<listener>&) { ++calls; }, {.sender = pa});
    sig.send(pa2);
    CHECK(calls == 0);
    sig.send(pa);
    CHECK(calls == 1);
  }
}

// -- member-function and weak receivers ---------------------------------------------------

TEST_CASE("sync signals: member-function receivers" * doctest::timeout(5)) {
  int_signal sig{"sig"};
  journal_scope j;
  listener raw{"raw"};
  auto strong = std::make_shared<listener>(listener{"strong"});
  sig.connect(&raw, &listener::on);
  sig.connect(strong, &listener::on_const);
  std::weak_ptr<listener> watch = strong;
  strong.reset();
  CHECK_FALSE(watch.expired());  // a strong receiver keeps its object alive
  sig.send("s", 7);
  CHECK(j.lines == std::vector<std::string>{"raw:s:7", "strong-const:s:7"});
}

TEST_CASE("sync signals: weak receivers are pruned once their object dies" * doctest::timeout(5)) {
  int_signal sig{"sig"};
  journal_scope j;
  auto obj = std::make_shared<listener>(listener{"weak"});
  sig.connect(obj, &listener::on, {.weak = true});
  sig.connect(std::weak_ptr<listener>{obj}, &listener::on_const, {.sender = "a"});
  sig.connect(std::weak_ptr<listener>{obj}, [](listener& self, const std::string& s, int x) {
    record(self.name + "-bound-ref:" + s + ":" + std::to_string(x));
  });
  sig.connect(
      obj,
      [](const std::shared_ptr<listener>& self, const std::string& s, int x, const int_signal&) {
        record(self->name + "-bound-ptr:" + s + ":" + std::to_string(x));
      },
      {.weak = true});
  CHECK(obj.use_count() == 1);  // weak receivers do not keep it alive
  CHECK(sig.registry().size() == 4);
  CHECK(sig.registry().sender_count() == 1);
  sig.send("a", 1);
  CHECK(j.lines == std::vector<std::string>{"weak:a:1", "weak-const:a:1", "weak-bound-ref:a:1",
                                            "weak-bound-ptr:a:1"});
  auto before = sig.iter_receivers("a");
  obj.reset();
  j.lines.clear();
  for (auto& e : before)  // an entry that died after the snapshot is skipped by its wrapper
    e->fn("a", 2, sig);
  CHECK(j.lines.empty());
  sig.send("a", 3);
  CHECK(j.lines.empty());
  CHECK(sig.iter_receivers("a").empty());
  CHECK(sig.registry().size() == 0);
  CHECK(sig.registry().sender_count() == 0);
  for (auto& e : before)
    CHECK_FALSE(e->connected());
}

TEST_CASE("sync signals: bad receivers are rejected with a clear error" * doctest::timeout(5)) {
  int_signal sig{"sig", "X"};
  CHECK_THROWS_WITH_AS(sig.connect(&free_a, {.weak = true}), doctest::Contains("'X.sig'"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(sig.connect([](const std::string&, int) {}, {.weak = true}),
                       doctest::Contains("weak=true"), std::invalid_argument);
  listener raw{"raw"};
  CHECK_THROWS_AS(sig.connect(&raw, &listener::on, {.weak = true}), std::invalid_argument);
  CHECK_THROWS_AS(sig.connect(static_cast<listener*>(nullptr), &listener::on),
                  std::invalid_argument);
  CHECK_THROWS_AS(sig.connect(std::shared_ptr<listener>{}, &listener::on), std::invalid_argument);
  std::weak_ptr<listener> gone;
  {
    auto tmp = std::make_shared<listener>();
    gone = tmp;
  }
  CHECK_THROWS_WITH_AS(sig.connect(gone, &listener::on), doctest::Contains("expired"),
                       std::invalid_argument);
  using fn_ptr = void (*)(const std::string&, int);
  CHECK_THROWS_AS(sig.connect(fn_ptr{nullptr}), std::invalid_argument);
  CHECK_THROWS_AS(sig.connect(std::function<void(const std::string&, int)>{}),
                  std::invalid_argument);
  CHECK(sig.registry().size() == 0);
}

// -- disconnect -------------------------------------------------------------------------------

TEST_CASE("sync signals: disconnect removes every kind of receiver (fix: mode kept strong ones)" *
          doctest::timeout(5)) {
  int_signal sig{"sig"};
  journal_scope j;
  auto obj = std::make_shared<listener>(listener{"obj"});
  listener raw{"raw"};
  SUBCASE("strong function, unfiltered") {
    sig.connect(&free_a);
    CHECK(sig.disconnect(&free_a));
  }
  SUBCASE("strong function, filtered") {
    sig.connect(&free_a, {.sender = "s"});
    CHECK_FALSE(sig.disconnect(&free_a));  // the unfiltered receiver is another one
    CHECK_FALSE(sig.disconnect(&free_a, {.sender = "t"}));
    CHECK(sig.disconnect(&free_a, {.sender = "s"}));
  }
  SUBCASE("strong member function on a raw pointer") {
    sig.connect(&raw, &listener::on);
    CHECK(sig.disconnect(&raw, &listener::on));
  }
  SUBCASE("strong member function on a shared_ptr, filtered") {
    sig.connect(obj, &listener::on, {.sender = "s"});
    CHECK(sig.disconnect(obj, &listener::on, {.sender = "s"}));
  }
  SUBCASE("weak member function, unfiltered") {
    sig.connect(obj, &listener::on, {.weak = true});
    CHECK(sig.disconnect(std::weak_ptr<listener>{obj}, &listener::on, {.weak = true}));
  }
  SUBCASE("weak member function, filtered") {
    sig.connect(std::weak_ptr<listener>{obj}, &listener::on, {.sender = "s"});
    CHECK(sig.disconnect(obj.get(), &listener::on, {.sender = "s"}));
  }
  SUBCASE("lambda, by id") {
    auto id = sig.connect([](const std::string&, int) { record("lambda"); });
    CHECK(sig.disconnect(id));
    CHECK_FALSE(sig.disconnect(id));
  }
  SUBCASE("weak bound lambda, filtered, by id") {
    auto id =
        sig.connect(std::weak_ptr<listener>{obj},
                    [](listener&, const std::string&, int) { record("lambda"); }, {.sender = "s"});
    CHECK(sig.disconnect(id));
  }
  CHECK(sig.registry().size() == 0);
  CHECK(sig.registry().sender_count() == 0);
  sig.send("s", 1);
  CHECK(j.lines.empty());
}

TEST_CASE("sync signals: disconnect leaves the other receivers alone" * doctest::timeout(5)) {
  int_signal sig{"sig"};
  journal_scope j;
  sig.connect(&free_a);
  sig.connect(&free_b);
  CHECK(sig.disconnect(&free_a));
  CHECK_FALSE(sig.disconnect(&free_a));  // never connected twice
  sig.send("s", 1);
  CHECK(j.lines == std::vector<std::string>{"b:s:1:sig"});
}

TEST_CASE(
    "mode: test_signals.py::test_disconnect_value_error: a never-connected receiver is no error" *
    doctest::timeout(5)) {
  int_signal sig{"sig"};
  CHECK_FALSE(sig.disconnect(&free_a));
  CHECK_FALSE(sig.disconnect(&free_a, {.sender = "x"}));
  CHECK_FALSE(sig.disconnect(mode::receiver_id{}));
  CHECK_FALSE(sig.disconnect(mode::receiver_id{123456789}));
  CHECK(sig.registry().sender_count() == 0);  // a lookup does not create a filter entry
}

TEST_CASE("sync signals: connect is idempotent for receivers with identity" * doctest::timeout(5)) {
  int_signal sig{"sig"};
  journal_scope j;
  auto id1 = sig.connect(&free_a);
  auto id2 = sig.connect(&free_a);
  CHECK(id1 == id2);
  listener raw{"raw"};
  CHECK(sig.connect(&raw, &listener::on) == sig.connect(&raw, &listener::on));
  auto l1 = sig.connect([](const std::string&, int) { record("lambda"); });
  auto l2 = sig.connect([](const std::string&, int) { record("lambda"); });
  CHECK(l1 != l2);
  CHECK(l1 < l2);  // ids grow in connect order
  auto filtered = sig.connect(&free_a, {.sender = "s"});
  CHECK(filtered != id1);  // another sender, another receiver
  CHECK(sig.registry().size() == 5);
}

TEST_CASE("sync signals: default-sender disconnect (mode's test_default_sender_disconnect)" *
          doctest::timeout(5)) {
  int_signal cls{"sig", "X"};
  auto x = cls.with_default_sender("x");
  x.connect(&free_a);
  CHECK(cls.registry().sender_count() == 1);
  CHECK(cls.iter_receivers().empty());  // filtered on the default sender
  CHECK(x.disconnect(&free_a));
  CHECK(cls.registry().sender_count() == 0);
}

TEST_CASE("sync signals: the filter table drops a sender with its last receiver" *
          doctest::timeout(5)) {
  int_signal sig{"sig"};
  auto a1 = sig.connect(&free_a, {.sender = "a"});
  sig.connect(&free_b, {.sender = "a"});
  sig.connect(&free_a, {.sender = "b"});
  CHECK(sig.registry().sender_count() == 2);
  CHECK(sig.disconnect(a1));
  CHECK(sig.registry().sender_count() == 2);
  CHECK(sig.disconnect(&free_b, {.sender = "a"}));
  CHECK(sig.registry().sender_count() == 1);
  CHECK(sig.disconnect(&free_a, {.sender = "b"}));
  CHECK(sig.registry().sender_count() == 0);
  for (int i = 0; i < 100; ++i) {
    auto id = sig.connect(&free_a, {.sender = std::to_string(i)});
    sig.disconnect(id);
  }
  CHECK(sig.registry().sender_count() == 0);
}

// -- errors and re-entrancy -----------------------------------------------------------------

TEST_CASE("sync signals: a throwing receiver is logged and the others still run" *
          doctest::timeout(5)) {
  log_capture logs;
  int_signal sig{"on_fire", "Service"};
  journal_scope j;
  sig.connect(&free_a);
  sig.connect([](const std::string&, int) { throw std::runtime_error("boom"); });
  sig.connect([](const std::string&, int) { throw 42; });
  sig.connect(&free_b);
  CHECK_NOTHROW(sig.send("s", 1));
  CHECK(j.lines == std::vector<std::string>{"a:s:1", "b:s:1:on_fire"});
  auto lines = logs.lines();
  REQUIRE(lines.size() == 2);
  CHECK(contains(lines[0], "mode.signals error"));
  CHECK(contains(lines[0], "'Service.on_fire'"));
  CHECK(contains(lines[0], "std::runtime_error: boom"));
  CHECK(contains(lines[1], "'Service.on_fire'"));
  CHECK(contains(lines[1], "raised int"));
}

TEST_CASE("sync signals: connect and disconnect from inside a receiver" * doctest::timeout(5)) {
  int_signal sig{"sig"};
  journal_scope j;
  mode::receiver_id self_id, victim_id;
  self_id = sig.connect([&](const std::string&, int) {
    record("first");
    sig.disconnect(victim_id);
    sig.disconnect(self_id);
    sig.connect([](const std::string&, int) { record("late"); });
  });
  victim_id = sig.connect([](const std::string&, int) { record("victim"); });
  sig.connect([](const std::string&, int) { record("last"); });
  sig.send("s", 1);
  CHECK(j.lines == std::vector<std::string>{"first", "last"});
  j.lines.clear();
  sig.send("s", 2);
  CHECK(j.lines == std::vector<std::string>{"last", "late"});
}

TEST_CASE("sync signals: a receiver sending the same signal recurses safely" *
          doctest::timeout(5)) {
  int_signal sig{"sig"};
  std::vector<int> seen;
  sig.connect([&](const std::string& s, int x, const int_signal& from) {
    seen.push_back(x);
    if (x < 3)
      from.send(s, x + 1);
  });
  sig.send("s", 0);
  CHECK(seen == std::vector<int>{0, 1, 2, 3});
}

// -- printing ---------------------------------------------------------------------------------

TEST_CASE("sync signals: printable forms show the label and the sender" * doctest::timeout(5)) {
  int_signal sig{"on_x", "Y"};
  CHECK(to_string(sig) == "<SyncSignal: Y.on_x>");
  CHECK(fmt::format("{}", sig) == "<SyncSignal: Y.on_x>");
  auto with = sig.with_default_sender("me");
  CHECK(fmt::format("{}", with) == "<SyncSignal: Y.on_x sender=me>");
  std::ostringstream out;
  out << with;
  CHECK(out.str() == "<SyncSignal: Y.on_x sender=me>");
  mode::SyncSignal<int> unnamed;
  CHECK(to_string(unnamed) == "<SyncSignal: >");
  SyncX* nobody = nullptr;
  mode::SyncSignal<SyncX*> by_ptr{{.name = "p", .owner = "", .default_sender = nobody}};
  CHECK(to_string(by_ptr) == "<SyncSignal: p sender=0x0>");
}

// -- the registry (the async Signal's hook) ------------------------------------------------

TEST_CASE("signal registry: owner tokens, snapshots and remove_owner" * doctest::timeout(5)) {
  int_signal sig{"sig"};
  auto service = std::make_shared<int>(1);
  auto other = std::make_shared<int>(2);
  auto obj = std::make_shared<listener>(listener{"obj"});
  auto owned = sig.connect(&free_a, {.owner = service});
  sig.connect(&free_b, {.sender = "s", .owner = service});
  sig.connect([](const std::string&, int) {}, {.owner = other});
  sig.connect(obj, &listener::on);  // the bound object is the default owner
  auto snapshot = sig.iter_receivers("s");
  REQUIRE(snapshot.size() == 4);
  CHECK(snapshot[0]->id == owned);
  CHECK(mode::detail::same_token(snapshot[0]->owner, service));
  CHECK_FALSE(snapshot[0]->sender.has_value());
  CHECK(snapshot[1]->sender == "s");
  CHECK(mode::detail::same_token(snapshot[3]->owner, std::weak_ptr<void>{obj}));
  CHECK(sig.registry().remove_owner(service) == 2);
  CHECK_FALSE(snapshot[0]->connected());
  CHECK_FALSE(snapshot[1]->connected());
  CHECK(snapshot[2]->connected());
  CHECK(sig.registry().remove_owner(std::weak_ptr<void>{}) == 0);
  CHECK(sig.registry().size() == 2);
  CHECK(sig.registry().sender_count() == 0);
  CHECK(sig.registry().clear() == 2);
  CHECK_FALSE(snapshot[3]->connected());
}

TEST_CASE("signal registry: concurrent connect, disconnect and send" * doctest::timeout(30)) {
  int_signal sig{"sig"};
  std::atomic<int> calls{0};
  sig.connect([&](const std::string&, int) { calls.fetch_add(1, std::memory_order_relaxed); });
  constexpr int rounds = 2000;
  std::atomic<bool> done{false};
  std::thread mutator{[&] {
    for (int i = 0; i < rounds; ++i) {
      auto id = sig.connect([](const std::string&, int) {}, {.sender = i % 2 ? "a" : "b"});
      auto id2 = sig.connect([](const std::string&, int) {});
      sig.disconnect(id);
      sig.disconnect(id2);
    }
    done = true;
  }};
  int sends = 0;
  while (!done.load() || sends < 100) {
    sig.send(sends % 2 ? "a" : "b", sends);
    ++sends;
  }
  mutator.join();
  CHECK(calls.load() == sends);
  CHECK(sig.registry().size() == 1);
  CHECK(sig.registry().sender_count() == 0);
}
