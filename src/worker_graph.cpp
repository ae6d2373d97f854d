// Renderings of a service-tree snapshot: DOT (mode's beacon graph), text tree, tasks.
#include <fmt/format.h>

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

void tree_lines(const ServiceNode& node, int depth, std::string& out) {
  out.append(static_cast<std::size_t>(depth) * 2, ' ');
  out += node.label;
  if (node.answered) {
    out += fmt::format(" [{}] restarts={}", node.state, node.restart_count);
    if (!node.flags.empty())
      out += fmt::format(" flags={}", fmt::join(node.flags, ","));
  } else {
    out += fmt::format(" [unknown] ({})", node.note.empty() ? "no answer" : node.note);
  }
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
