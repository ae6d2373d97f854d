// mode::render_metrics and the snapshot it reads: Prometheus text for a tree with a
// supervisor, and the figures of a live supervisor after a known number of crashes.
#include "mode/metrics.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <limits>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "mode/graph.hpp"
#include "mode/service_handle.hpp"
#include "mode/service_scope.hpp"
#include "mode/supervisors.hpp"
#include "mode/testing.hpp"

using namespace std::chrono_literals;

namespace {

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in{text};
  for (std::string l; std::getline(in, l);)
    if (l == line)
      return true;
  return false;
}

/// Throws from on_started for its first `failures` starts, then runs.
class Flaky : public mode::Service {
 public:
  explicit Flaky(std::shared_ptr<std::atomic<int>> starts, int failures)
      : starts_(std::move(starts)), failures_(failures) {}

 private:
  mode::task<void> on_started() override {
    if (++*starts_ <= failures_)
      throw std::runtime_error("boom");
    co_return;
  }
  std::shared_ptr<std::atomic<int>> starts_;
  int failures_;
};

}  // namespace

TEST_CASE("metrics: a tree with a supervisor as Prometheus text, labels escaped" *
          doctest::timeout(10)) {
  mode::ServiceNode root;
  root.label = "Worker";
  root.state = "running";
  root.answered = true;
  root.uptime_s = 12.5;
  mode::ServiceNode sup;
  sup.label = "OneForOneSupervisor";
  sup.state = "running";
  sup.answered = true;
  sup.supervisor = true;
  sup.restarts_in_window = 3;
  sup.max_restarts = 100;
  sup.window_s = 60;
  mode::ServiceNode held;
  held.label = "Fe\"tch\\er\n";
  held.state = "crashed";
  held.answered = true;
  held.held = true;
  held.crashes = 4;
  held.restart_count = 3;
  sup.children.push_back(held);
  root.children.push_back(sup);
  mode::ServiceNode unlimited = sup;
  unlimited.children.clear();
  unlimited.max_restarts = std::numeric_limits<double>::infinity();
  root.children.push_back(unlimited);
  mode::ProcessStats process;
  process.resident_bytes = 4096;
  process.threads = 7;
  process.running_actors = 5;
  auto text = mode::render_metrics(root, process);
  CAPTURE(text);
  CHECK(has_line(text, "# TYPE mode_service_up gauge"));
  CHECK(has_line(text, R"(mode_service_up{service="Worker",path="0"} 1)"));
  CHECK(has_line(text, R"(mode_service_up{service="Fe\"tch\\er\n",path="0.0.0"} 0)"));
  CHECK(has_line(text,
                 R"(mode_service_state{service="Fe\"tch\\er\n",path="0.0.0",state="crashed"} 1)"));
  CHECK(has_line(text, R"(mode_service_restarts_total{service="Fe\"tch\\er\n",path="0.0.0"} 3)"));
  CHECK(has_line(text, R"(mode_service_crashes_total{service="Fe\"tch\\er\n",path="0.0.0"} 4)"));
  CHECK(has_line(text, R"(mode_service_uptime_seconds{service="Worker",path="0"} 12.5)"));
  CHECK(has_line(
      text, R"(mode_supervisor_restarts_in_window{service="OneForOneSupervisor",path="0.0"} 3)"));
  CHECK(has_line(text,
                 R"(mode_supervisor_max_restarts{service="OneForOneSupervisor",path="0.0"} 100)"));
  CHECK(has_line(text,
                 R"(mode_supervisor_max_restarts{service="OneForOneSupervisor",path="0.1"} +Inf)"));
  CHECK(has_line(text,
                 R"(mode_supervisor_window_seconds{service="OneForOneSupervisor",path="0.0"} 60)"));
  CHECK(has_line(text, "mode_process_resident_memory_bytes 4096"));
  CHECK(has_line(text, "mode_process_threads 7"));
  CHECK(has_line(text, "mode_actors_running 5"));
  CHECK(text.find("mode_scheduler_threads") == std::string::npos);  // not known here
  // Only held services have a crash count; the root and the supervisors have none.
  CHECK_FALSE(has_line(text, R"(mode_service_crashes_total{service="Worker",path="0"} 0)"));
}

TEST_CASE("metrics: signal counts are series per owner and name, labels escaped" *
          doctest::timeout(10)) {
  mode::ServiceNode root;
  root.label = "Worker";
  root.state = "running";
  std::vector<mode::SignalStats> signals{{"Orders", "on_order", 12, 2, 3},
                                         {"Q\"uote", "on\nline", 0, 0, 0}};
  auto text = mode::render_metrics(root, mode::ProcessStats{}, signals);
  CAPTURE(text);
  CHECK(has_line(text, "# TYPE mode_signal_sends_total counter"));
  CHECK(has_line(text, R"(mode_signal_sends_total{owner="Orders",signal="on_order"} 12)"));
  CHECK(has_line(text, R"(mode_signal_receiver_errors_total{owner="Orders",signal="on_order"} 2)"));
  CHECK(has_line(text, R"(mode_signals{owner="Orders",signal="on_order"} 3)"));
  CHECK(has_line(text, R"(mode_signal_sends_total{owner="Q\"uote",signal="on\nline"} 0)"));
  CHECK(has_line(text, R"(mode_signals{owner="Q\"uote",signal="on\nline"} 0)"));
  // Without signals there are no signal families at all (no empty HELP/TYPE blocks).
  auto bare = mode::render_metrics(root, mode::ProcessStats{});
  CHECK(bare.find("mode_signal") == std::string::npos);
}

TEST_CASE("metrics: a live supervisor after 3 crashes of its service: counts, window, chain" *
          doctest::timeout(60)) {
  mode::testing::system_fixture fx;
  mode::ServiceScope scope{fx.sys};
  auto starts = std::make_shared<std::atomic<int>>(0);
  mode::SupervisorOptions options;
  options.over = mode::Seconds{3600.0};  // every restart stays in the window
  auto sup = std::make_shared<mode::OneForOneSupervisor>(options);
  sup->add(std::make_shared<Flaky>(starts, 3));
  auto h = scope.add(mode::ServiceHandle{fx.sys, sup});
  h.start();
  // The fourth start runs; wait (bounded) until the supervisor saw it through.
  mode::ServiceNode root;
  for (int i = 0; i < 500; ++i) {
    root = mode::inspect(h);
    if (root.children.size() == 1 && root.children[0].state == "running" && *starts >= 4)
      break;
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE(root.answered);
  CHECK(root.supervisor);
  CHECK(root.restarts_in_window == 3);
  CHECK(root.max_restarts == 100);
  CHECK(root.window_s == 3600);
  REQUIRE(root.children.size() == 1);  // a held service, which the tree used to miss
  const auto& flaky = root.children[0];
  CHECK(flaky.held);
  CHECK(flaky.label == "Flaky");
  CHECK(flaky.state == "running");
  CHECK(flaky.crashes == 3);
  CHECK(flaky.restart_count == 3);
  CHECK(flaky.last_crash.find("std::runtime_error: boom") != std::string::npos);
  CHECK(flaky.uptime_s >= 0);
  auto text = mode::render_metrics(root, mode::process_stats());
  CAPTURE(text);
  CHECK(has_line(text, R"(mode_service_crashes_total{service="Flaky",path="0.0"} 3)"));
  CHECK(has_line(text, R"(mode_service_restarts_total{service="Flaky",path="0.0"} 3)"));
  CHECK(has_line(
      text, R"(mode_supervisor_restarts_in_window{service="OneForOneSupervisor",path="0"} 3)"));
  CHECK(has_line(text, R"(mode_service_up{service="Flaky",path="0.0"} 1)"));
  CHECK(root.label.starts_with("OneForOneSupervisor: (1@0x"));  // mode's label
  CHECK(root.shortlabel == "OneForOneSupervisor");              // what metrics use
  CHECK(mode::render_tree(root) == root.label +
                                       " [running] restarts=0\n  Flaky [running] restarts=3 "
                                       "held crashes=3\n");
  auto json = nlohmann::json::parse(mode::to_json(root));
  CHECK(json["supervisor"]["restarts_in_window"] == 3);
  CHECK(json["children"][0]["held"] == true);
  CHECK(json["children"][0]["crashes"] == 3);
  h.stop();
}
