// Prometheus' text exposition of a service-tree snapshot (mode/metrics.hpp).
#include "mode/metrics.hpp"

#include <unistd.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace mode {

namespace {

// A label value: backslash, double quote and newline are escaped.
std::string label_value(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\' || c == '"')
      out += '\\', out += c;
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string number(double value) {
  if (std::isinf(value))
    return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value))
    return "NaN";
  return fmt::format("{}", value);
}

struct series {
  std::string labels;  // `service="..",path=".."`
  const ServiceNode* node;
};

void collect(const ServiceNode& node, const std::string& path, std::vector<series>& out) {
  const auto& name = node.shortlabel.empty() ? node.label : node.shortlabel;
  out.push_back({fmt::format("service=\"{}\",path=\"{}\"", label_value(name), path), &node});
  for (std::size_t i = 0; i < node.children.size(); ++i)
    collect(node.children[i], fmt::format("{}.{}", path, i), out);
}

class writer {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  void sample(std::string_view name, std::string_view labels, std::string_view value) {
    if (labels.empty())
      out_ += fmt::format("{} {}\n", name, value);
    else
      out_ += fmt::format("{}{{{}}} {}\n", name, labels, value);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

ProcessStats process_stats() {
  ProcessStats stats;
  std::ifstream statm{"/proc/self/statm"};
  std::uint64_t size = 0;
  std::uint64_t resident = 0;
  if (statm >> size >> resident)
    stats.resident_bytes = resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  std::ifstream status{"/proc/self/status"};
  for (std::string line; std::getline(status, line);)
    if (line.starts_with("Threads:")) {
      std::istringstream{line.substr(8)} >> stats.threads;
      break;
    }
  return stats;
}

std::string render_metrics(const ServiceNode& root, const ProcessStats& process,
                           const std::vector<SignalStats>& signals) {
  std::vector<series> all;
  collect(root, "0", all);
  writer w;
  w.family("mode_service_up", "gauge", "1 while the service runs.");
  for (auto& s : all)
    w.sample("mode_service_up", s.labels, s.node->state == "running" ? "1" : "0");
  w.family("mode_service_answered", "gauge",
           "1 if the service's actor answered the snapshot in time (0: blocked or gone).");
  for (auto& s : all)
    w.sample("mode_service_answered", s.labels, s.node->answered ? "1" : "0");
  w.family("mode_service_state", "gauge",
           "The service's state (init, running, stopping, shutdown, crashed, unknown), "
           "as a label of a series that is 1.");
  for (auto& s : all)
    w.sample("mode_service_state",
             fmt::format("{},state=\"{}\"", s.labels, label_value(s.node->state)), "1");
  w.family("mode_service_restarts_total", "counter", "Times the service was restarted.");
  for (auto& s : all)
    w.sample("mode_service_restarts_total", s.labels, fmt::format("{}", s.node->restart_count));
  w.family("mode_service_uptime_seconds", "gauge", "Seconds since the last start, while running.");
  for (auto& s : all)
    w.sample("mode_service_uptime_seconds", s.labels, number(s.node->uptime_s));
  w.family("mode_service_crashes_total", "counter",
           "Times a supervisor saw the service's actor go down with an error.");
  for (auto& s : all)
    if (s.node->held)
      w.sample("mode_service_crashes_total", s.labels, fmt::format("{}", s.node->crashes));
  w.family("mode_supervisor_restarts_in_window", "gauge",
           "Restarts within the supervisor's max_restarts window now.");
  for (auto& s : all)
    if (s.node->supervisor)
      w.sample("mode_supervisor_restarts_in_window", s.labels,
               fmt::format("{}", s.node->restarts_in_window));
  w.family("mode_supervisor_max_restarts", "gauge",
           "More restarts than this within the window crash the supervisor (+Inf: no limit).");
  for (auto& s : all)
    if (s.node->supervisor)
      w.sample("mode_supervisor_max_restarts", s.labels, number(s.node->max_restarts));
  w.family("mode_supervisor_window_seconds", "gauge", "The length of the max_restarts window.");
  for (auto& s : all)
    if (s.node->supervisor)
      w.sample("mode_supervisor_window_seconds", s.labels, number(s.node->window_s));
  auto signal_labels = [](const SignalStats& s) {
    return fmt::format("owner=\"{}\",signal=\"{}\"", label_value(s.owner), label_value(s.name));
  };
  if (!signals.empty()) {
    w.family("mode_signal_sends_total", "counter", "Sends of the signals of this label.");
    for (const auto& s : signals)
      w.sample("mode_signal_sends_total", signal_labels(s), fmt::format("{}", s.sends));
    w.family("mode_signal_receiver_errors_total", "counter",
             "Receivers of the signals of this label that threw.");
    for (const auto& s : signals)
      w.sample("mode_signal_receiver_errors_total", signal_labels(s),
               fmt::format("{}", s.receiver_errors));
    w.family("mode_signals", "gauge", "Signals of this label alive now.");
    for (const auto& s : signals)
      w.sample("mode_signals", signal_labels(s), fmt::format("{}", s.live));
  }
  w.family("mode_process_resident_memory_bytes", "gauge", "Resident memory of the process.");
  w.sample("mode_process_resident_memory_bytes", "", fmt::format("{}", process.resident_bytes));
  w.family("mode_process_threads", "gauge", "Threads of the process.");
  w.sample("mode_process_threads", "", fmt::format("{}", process.threads));
  if (process.running_actors) {
    w.family("mode_actors_running", "gauge", "Actors running in the actor system.");
    w.sample("mode_actors_running", "", fmt::format("{}", *process.running_actors));
  }
  if (process.scheduler_threads) {
    w.family("mode_scheduler_threads", "gauge", "Threads of the actor system's scheduler.");
    w.sample("mode_scheduler_threads", "", fmt::format("{}", *process.scheduler_threads));
  }
  return w.take();
}

}  // namespace mode
