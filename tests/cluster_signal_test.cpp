// mode::ClusterSignal: a send on one node runs the receivers of every node it talks to, sender
// filters hold across nodes (by key), a send that does not fit a node's declaration is dropped
// there with a warning, and a node that went is no longer sent to. In-process cases run each
// node on its own actor system; one runs tests/node_fixture as a second process.
#include "mode/cluster_signal.hpp"

#include <doctest/doctest.h>

#include <signal.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "child_process.hpp"
#include "node_support.hpp"
#include "test_support.hpp"

using namespace std::chrono_literals;
using namespace mode::testing::nodes;
using mode::testing::recorder;

namespace {

/// Connects a receiver to `sig` that records "<node>: <sender> <n>" (unfiltered, or only
/// `sender`'s sends).
void record(mode::ClusterSignal<int>& sig, recorder& log, const std::string& node,
            std::optional<std::string> sender = std::nullopt) {
  sig.connect(
      [&log, node, filtered = sender.has_value()](const std::string& from, int n) {
        log.add(fmt::format("{}{}: {} {}", node, filtered ? " (filtered)" : "", from, n));
      },
      {.sender = std::move(sender)});
}

}  // namespace

TEST_CASE("cluster signal: a send runs the receivers of both nodes; filters hold by key" *
          doctest::timeout(60)) {
  local_node a{quick_options("a")};
  local_node b{quick_options("b")};
  a.node->connect({"127.0.0.1", b.node->port()});  // b learns of a from a's hello
  REQUIRE(eventually([&] { return b.node->peer_names() == std::vector<std::string>{"a"}; }, 10s));
  CHECK(a.node->peer_names() == std::vector<std::string>{"b"});

  mode::ClusterSignal<int> on_a{*a.node, "orders"};
  mode::ClusterSignal<int> on_b{*b.node, "orders"};
  recorder log;
  record(on_a, log, "a");
  record(on_b, log, "b");
  record(on_b, log, "b", "shop-1");

  CHECK(on_a.send_nowait("shop-1", 1) == 1);  // to one other node
  CHECK(on_a.send_nowait("shop-2", 2) == 1);
  CHECK(on_b.send_nowait("shop-1", 3) == 1);  // b to a: a connected to b, not b to a
  REQUIRE(eventually([&] { return log.events().size() == 8; }, 10s));
  for (const auto* e : {"a: shop-1 1", "a: shop-2 2", "a: shop-1 3", "b: shop-1 1", "b: shop-2 2",
                        "b: shop-1 3", "b (filtered): shop-1 1", "b (filtered): shop-1 3"})
    CHECK(log.count(e) == 1);
  CHECK(log.count("b (filtered): shop-2 2") == 0);
  std::this_thread::sleep_for(200ms);  // nothing more arrives: each send ran each receiver once
  CHECK(log.events().size() == 8);
}

TEST_CASE("cluster signal: bad names and sends that do not fit are errors, never crashes" *
          doctest::timeout(60)) {
  local_node a{quick_options("a")};
  local_node b{quick_options("b")};
  a.node->connect({"127.0.0.1", b.node->port()});
  mode::ClusterSignal<int> on_a{*a.node, "orders"};
  CHECK_THROWS_WITH_AS((mode::ClusterSignal<int>{*a.node, "orders"}),
                       doctest::Contains("a cluster signal named 'orders' exists on this node"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS((mode::ClusterSignal<int>{*a.node, ""}), doctest::Contains("needs a name"),
                       std::invalid_argument);
  // b declared the same name with other argument types: a's sends are dropped there, named.
  mode::ClusterSignal<std::string> wrong_on_b{*b.node, "orders"};
  recorder log;
  wrong_on_b.connect(
      [&log](const std::string& from, const std::string& text) { log.add(from + " " + text); });
  mode::testing::log_capture warnings{"mode.node"};
  on_a.send_nowait("shop-1", 1);
  CHECK(eventually(
      [&] {
        return warnings.contains(
            "Node b: dropped a send of cluster signal 'orders' from a peer: "
            "std::invalid_argument: its arguments (1) do not fit (std::string)");
      },
      10s));
  CHECK(log.events().empty());
  // b still hears a send that fits, from itself; on a, where it does not fit, it is dropped.
  wrong_on_b.send_nowait("b", "fine");
  CHECK(log.events() == std::vector<std::string>{"b fine"});
  // (Waited for before the capture ends: it must not change its logger's sinks while a
  // node's actor logs.)
  CHECK(eventually(
      [&] {
        return warnings.contains(
            "Node a: dropped a send of cluster signal 'orders' from a peer: "
            "std::invalid_argument: its arguments (\"fine\") do not fit "
            "(int)");
      },
      10s));
  // A name no ClusterSignal has on the peer is nobody's there: dropped without a word.
  mode::ClusterSignal<int> only_on_a{*a.node, "nobody-else"};
  CHECK(only_on_a.send_nowait("x", 1) == 1);
}

TEST_CASE(
    "cluster signal across processes: a filtered receiver on the peer, its echo back; a "
    "node that went is no longer sent to" *
    doctest::timeout(120)) {
  mode::testing::child_process b{MODE_NODE_FIXTURE, {"b", "", "0.1", "1.0"}};
  auto b_port = fixture_port(b, "b");
  local_node a{quick_options("a")};
  a.node->connect({"127.0.0.1", b_port});
  mode::ClusterSignal<std::string> chat{*a.node, "chat"};
  recorder log;
  chat.connect(
      [&log](const std::string& from, const std::string& text) { log.add(from + ": " + text); });
  CHECK(chat.send_nowait("other", "not for b's receiver") == 1);
  CHECK(chat.send_nowait("wanted", "hello") == 1);
  REQUIRE(b.wait_for("heard wanted hello\n", 30s, true));
  CHECK(b.out().find("not for b") == std::string::npos);  // filtered out there, sent before
  REQUIRE(eventually([&] { return log.count("b: echo hello") == 1; }, 10s));  // b's send, here

  b.signal(SIGKILL);
  REQUIRE(eventually([&] { return a.node->peer_names().empty(); }, 10s));
  CHECK(chat.send_nowait("wanted", "anyone?") == 0);
  CHECK(log.count("wanted: anyone?") == 1);  // this node's receivers still hear it
}
