// The service tree as data (inspect) and as DOT / text (mode's beacon graph).
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "mode/graph.hpp"
#include "mode/service.hpp"
#include "mode/service_handle.hpp"
#include "test_support.hpp"

using namespace std::chrono_literals;
using mode::ServiceNode;

namespace {

ServiceNode node(std::string label, std::string state = "running",
                 std::vector<ServiceNode> children = {}) {
  ServiceNode n;
  n.label = std::move(label);
  n.state = std::move(state);
  n.answered = true;
  n.children = std::move(children);
  return n;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("to_dot draws mode's dependency graph: nodes, parent -> child edges, leaves lighter" *
          doctest::timeout(10)) {
  auto root = node("Worker", "running", {node("A", "running", {node("A1")}), node("B", "crashed")});
  auto dot = mode::to_dot(root);
  CHECK(dot.starts_with("digraph dependencies {\n"));
  CHECK(dot.ends_with("}\n"));
  CHECK(contains(dot, R"(graph [bgcolor="mintcream", root="Worker"])"));
  // Depth-first ids: Worker n0, A n1, A1 n2, B n3.
  CHECK(contains(dot, R"("n0" [label="Worker")"));
  CHECK(contains(dot, R"("n2" [label="A1")"));
  CHECK(contains(dot, R"("n0" -> "n1")"));
  CHECK(contains(dot, R"("n1" -> "n2")"));
  CHECK(contains(dot, R"("n0" -> "n3")"));
  CHECK_FALSE(contains(dot, R"("n2" -> )"));
  CHECK(contains(dot, R"([label="A", shape="box", style="filled", fontname="HelveticaNeue", )"
                      R"(fillcolor="palegreen3")"));
  CHECK(contains(dot, R"([label="A1", shape="box", style="filled", fontname="HelveticaNeue", )"
                      R"(fillcolor="palegreen1")"));
  CHECK(contains(dot, R"(label="B", shape="box", style="filled", fontname="HelveticaNeue", )"
                      R"(fillcolor="lightcoral")"));
  CHECK(contains(dot, R"(arrowhead="vee")"));
}

TEST_CASE("to_dot escapes labels and greys out services that did not answer" *
          doctest::timeout(10)) {
  auto root = node(R"(Say "hi"\now)");
  ServiceNode silent;
  silent.label = "Stuck";
  root.children.push_back(silent);
  auto dot = mode::to_dot(root);
  CHECK(contains(dot, R"(label="Say \"hi\"\\now")"));
  CHECK(contains(dot, R"(label="Stuck", shape="box", style="filled", fontname="HelveticaNeue", )"
                      R"(fillcolor="lightgrey")"));
}

TEST_CASE("render_tree prints one indented line per service" * doctest::timeout(10)) {
  auto root = node("Worker", "running", {node("A", "stopping"), node("B")});
  root.children[0].flags = {"busy", "waiting"};
  root.children[1].restart_count = 3;
  ServiceNode silent;
  silent.label = "Stuck";
  silent.note = "no answer within 1s: blocked?";
  root.children[1].children.push_back(silent);
  CHECK(mode::render_tree(root) ==
        "Worker [running] restarts=0\n"
        "  A [stopping] restarts=0 flags=busy,waiting\n"
        "  B [running] restarts=3\n"
        "    Stuck [unknown] (no answer within 1s: blocked?)\n");
  CHECK(mode::count_services(root) == 4);
}

TEST_CASE("render_tasks lists each pending task under a header, as human_tracebacks" *
          doctest::timeout(10)) {
  auto root = node("Worker", "running", {node("A")});
  CHECK(mode::render_tasks(root) == "No pending tasks.\n");
  root.children[0].tracebacks["poll"] = "a.cpp:12 in A::poll (awaiting Service.sleep)";
  CHECK(mode::render_tasks(root) ==
        "A poll\n"
        "======\n"
        "a.cpp:12 in A::poll (awaiting Service.sleep)\n\n");
}

namespace {

class Named : public mode::Service {
 public:
  explicit Named(std::string name) : name_(std::move(name)) {}
  std::string label() const override { return name_; }

 private:
  std::string name_;
};

class Polling : public Named {
 public:
  Polling() : Named("Polling") {
    add_task("poll", [this]() -> mode::task<void> {
      diag.set_flag("polling");
      co_await sleep(3600);
    });
  }
};

class Stuck : public Named {
 public:
  Stuck() : Named("Stuck") {}
  mode::task<void> on_started() override {
    entered.store(true);
    while (!released.load())
      std::this_thread::sleep_for(1ms);
    co_return;
  }
  std::atomic<bool> entered{false};
  std::atomic<bool> released{false};
};

}  // namespace

TEST_CASE("inspect gathers the running tree from the services' actors" * doctest::timeout(60)) {
  mode::testing::system_fixture fx;
  auto root = std::make_shared<Named>("Root");
  auto a = root->add_dependency(std::make_shared<Named>("A"));
  a->add_dependency(std::make_shared<Polling>());
  root->add_dependency(std::make_shared<Named>("B"));
  mode::ServiceHandle h{fx.sys, root};
  auto before = mode::inspect(h);
  CHECK(before.answered);
  CHECK(before.state == "init");
  CHECK(before.children.size() == 2);  // known, not started: no actors yet
  CHECK_FALSE(before.children[0].answered);
  CHECK(before.children[0].label == "Named");  // the type: its label() is not ours to call
  h.start();
  auto tree = mode::inspect(h);
  REQUIRE(tree.answered);
  CHECK(tree.label == "Root");
  CHECK(tree.state == "running");
  REQUIRE(tree.children.size() == 2);
  CHECK(tree.children[0].label == "A");
  CHECK(tree.children[1].label == "B");
  REQUIRE(tree.children[0].children.size() == 1);
  auto& polling = tree.children[0].children[0];
  CHECK(polling.label == "Polling");
  CHECK(polling.state == "running");
  CHECK(polling.flags == std::vector<std::string>{"polling"});
  REQUIRE(polling.tracebacks.count("poll") == 1);
  CHECK(contains(polling.tracebacks["poll"], "graph_test.cpp:"));
  CHECK(contains(mode::render_tasks(tree), "Polling poll\n============\n"));
  h.stop();
  auto after = mode::inspect(h);
  CHECK(after.state == "shutdown");
  CHECK(after.children[0].state == "shutdown");
}

TEST_CASE("inspect does not hang on a service whose thread is blocked" * doctest::timeout(60)) {
  mode::testing::system_fixture fx;
  auto root = std::make_shared<Named>("Root");
  auto stuck = root->add_dependency(std::make_shared<Stuck>());
  mode::ServiceHandle h{fx.sys, root};
  h.send_start();
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!stuck->entered.load() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  REQUIRE(stuck->entered.load());
  // The root waits for its child's start (no thread held); the child holds its thread.
  auto tree = mode::inspect(h, 0.2);
  CHECK(tree.answered);
  REQUIRE(tree.children.size() == 1);
  CHECK_FALSE(tree.children[0].answered);
  CHECK(tree.children[0].label == "Stuck");
  CHECK(contains(tree.children[0].note, "no answer within 0.2s"));
  stuck->released.store(true);
  h.stop();
}
