// Renderings of a service-tree snapshot: DOT (mode's beacon graph), JSON, text tree, tasks.
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "mode/graph.hpp"

namespace mode {

namespace {

// DOT's quoted strings: a backslash and a double quote need escaping; a newline
// becomes DOT's centred line break.
std::string dot_quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\')
      out += '\\', out += c;
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  out += '"';
  return out;
}

// mode's GraphFormatter scheme (mode/utils/graphs/formatter.py).
constexpr std::string_view node_style = R"(shape="box", style="filled", fontname="HelveticaNeue")";
constexpr std::string_view edge_style =
    R"(arrowhead="vee", color="darkseagreen4", arrowcolor="black", arrowsize="0.7")";

std::string_view fill_of(const ServiceNode& node) {
  if (!node.answered)
    return R"(fillcolor="lightgrey", color="grey")";
  if (node.state == "crashed")
    return R"(fillcolor="lightcoral", color="red3")";
  // mode: inner nodes palegreen3, terminal nodes (leaves) palegreen1.
  if (node.children.empty())
    return R"(fillcolor="palegreen1", color="palegreen2")";
  return R"(fillcolor="palegreen3", color="palegreen4")";
}

void dot_nodes(const ServiceNode& node, std::size_t& next_id, std::string& out) {
  auto id = next_id++;
  out += fmt::format("    \"n{}\" [label={}, {}, {}]\n", id, dot_quote(node.label), node_style,
                     fill_of(node));
  for (auto& child : node.children) {
    auto child_id = next_id;
    dot_nodes(child, next_id, out);
    out += fmt::format("    \"n{}\" -> \"n{}\" [{}]\n", id, child_id, edge_style);
  }
}

nlohmann::ordered_json json_of(const ServiceNode& node, int depth) {
  nlohmann::ordered_json out;
  out["label"] = node.label;
  out["shortlabel"] = node.shortlabel.empty() ? node.label : node.shortlabel;
  out["state"] = node.state;
  out["restarts"] = node.restart_count;
  out["answered"] = node.answered;
  out["note"] = node.note;
  out["uptime_s"] = node.uptime_s;
  out["flags"] = node.flags;
  out["held"] = node.held;
  if (node.held) {
    out["crashes"] = node.crashes;
    out["last_crash"] = node.last_crash;
  }
  if (node.supervisor) {
    nlohmann::ordered_json sup;
    sup["restarts_in_window"] = node.restarts_in_window;
    sup["max_restarts"] = std::isfinite(node.max_restarts)
                              ? nlohmann::ordered_json(node.max_restarts)
                              : nlohmann::ordered_json(nullptr);
    sup["window_s"] = node.window_s;
    out["supervisor"] = std::move(sup);
  } else {
    out["supervisor"] = nullptr;
  }
  auto children = nlohmann::ordered_json::array();
  if (depth < 1000)  // deeper is a cycle, not a program
    for (auto& child : node.children)
      children.push_back(json_of(child, depth + 1));
  out["children"] = std::move(children);
  return out;
}

void tree_lines(const ServiceNode& node, int depth, std::string& out) {
  out.append(static_cast<std::size_t>(depth) * 2, ' ');
  out += node.label;
  if (node.answered) {
    out += fmt::format(" [{}] restarts={}", node.state, node.restart_count);
    if (!node.flags.empty())
      out += fmt::format(" flags={}", fmt::join(node.flags, ","));
  } else if (node.state != "unknown") {
    // Its actor is gone; its parent read the state it ended in.
    out += fmt::format(" [{}] restarts={} ({})", node.state, node.restart_count, node.note);
  } else {
    out += fmt::format(" [unknown] ({})", node.note.empty() ? "no answer" : node.note);
  }
  if (node.held)
    out += fmt::format(" held crashes={}", node.crashes);
  out += '\n';
  for (auto& child : node.children)
    tree_lines(child, depth + 1, out);
}

void task_lines(const ServiceNode& node, std::string& out) {
  for (auto& [name, where] : node.tracebacks) {
    auto header = fmt::format("{} {}", node.label, name);
    out += header;
    out += '\n';
    out.append(header.size(), '=');
    out += '\n';
    out += where;
    out += "\n\n";
  }
  if (!node.answered)
    out += fmt::format("{}: tasks unknown ({})\n\n", node.label,
                       node.note.empty() ? "no answer" : node.note);
  for (auto& child : node.children)
    task_lines(child, out);
}

}  // namespace

std::size_t count_services(const ServiceNode& root) {
  std::size_t n = 1;
  for (auto& child : root.children)
    n += count_services(child);
  return n;
}

std::string to_dot(const ServiceNode& root) {
  std::string out = "digraph dependencies {\n";
  out += fmt::format("    graph [bgcolor=\"mintcream\", root={}]\n", dot_quote(root.label));
  std::size_t next_id = 0;
  dot_nodes(root, next_id, out);
  out += "}\n";
  return out;
}

std::string to_json(const ServiceNode& root) {
  return json_of(root, 0).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string render_tree(const ServiceNode& root) {
  std::string out;
  tree_lines(root, 0, out);
  return out;
}

std::string render_tasks(const ServiceNode& root) {
  std::string out;
  task_lines(root, out);
  if (out.empty())
    out = "No pending tasks.\n";
  return out;
}

}  // namespace mode
