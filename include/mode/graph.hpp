// The service tree as data and as text: mode's beacon graph (`Node.as_graph()` and
// `DependencyGraph.to_dot()`), the Worker console's `tree` and `tasks` views.
//
// Each service lives on its own actor, so a picture of the tree is gathered by asking
// every actor for its part (inspect()); a service that does not answer in time (its
// thread is blocked, or it is gone) still appears, marked as not answering, so a
// snapshot never hangs on one stuck service. The renderers below are plain functions
// of the snapshot.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "mode/times.hpp"

namespace mode {

class ServiceHandle;

/// One service in a snapshot of the service tree.
struct ServiceNode {
  /// The service's label() (or its type name if it did not answer).
  std::string label;
  /// Its shortlabel() (empty if it did not answer): what metrics name it by, since a
  /// label may hold an address (a supervisor's does) and change with every run.
  std::string shortlabel;
  /// mode's state string: "init", "running", "stopping", "shutdown", "crashed";
  /// "unknown" if the service did not answer.
  std::string state = "unknown";
  /// Times the service was restarted (mode's restart_count).
  int restart_count = 0;
  /// Diag flags set now (mode's `diag.flags`), sorted.
  std::vector<std::string> flags;
  /// Pending tasks: name -> where it is suspended (Service::tracebacks()).
  std::map<std::string, std::string> tracebacks;
  /// The children, in start order.
  std::vector<ServiceNode> children;
  /// False if the service's actor did not answer within the timeout (blocked?) or
  /// was gone; then only `label` is known.
  bool answered = false;
  /// Why it did not answer ("no answer within 1s", "actor exited", "not spawned").
  std::string note;
  /// Seconds since its last start, while it runs.
  double uptime_s = 0;
  /// Held by a supervisor (the node's parent) rather than a child of it.
  bool held = false;
  /// For a held service: times its actor went down with an error, and the last chain.
  std::uint64_t crashes = 0;
  std::string last_crash;
  /// For a supervisor: restarts within its window, max_restarts (+inf: unlimited) and
  /// the window's length.
  bool supervisor = false;
  std::uint64_t restarts_in_window = 0;
  double max_restarts = 0;
  double window_s = 0;
};

/// Number of services in the tree below and including `root`.
std::size_t count_services(const ServiceNode& root);

/// The tree as Graphviz DOT, in mode's style (a `digraph dependencies`, boxes filled
/// palegreen, leaves lighter, edges parent -> child); crashed services are filled
/// red-ish, services that did not answer grey. Node ids are "n0", "n1", ... in
/// depth-first order; labels are escaped for DOT.
std::string to_dot(const ServiceNode& root);

/// The tree as JSON (the status page's /api/tree): one object per service with
/// `label`, `shortlabel` (label when it has none), `state`, `restarts`, `answered`, `note`,
/// `uptime_s`, `flags`, `held` (with `crashes` and `last_crash`), `supervisor` (an object with
/// `restarts_in_window`, `max_restarts`, null when unlimited, and `window_s`; null
/// for other services) and `children`. Text that is not UTF-8 is replaced (U+FFFD).
std::string to_json(const ServiceNode& root);

/// The tree as indented text, one line per service:
/// `Label [state] restarts=N flags=a,b` (flags only when set; a note when the
/// service did not answer). Children are indented by two spaces per level.
std::string render_tree(const ServiceNode& root);

/// Every service's pending tasks, as Service::human_tracebacks() renders them (a
/// `Label task` header underlined with '=', then where it waits), depth first.
/// "No pending tasks." when there are none.
std::string render_tasks(const ServiceNode& root);

/// Gathers a snapshot of the tree below (and including) the service of `handle` by
/// asking each service's actor, each ask bounded by `timeout` (default 1 s). Call it
/// from a thread that is not one of the actor system's actors (main, a console or
/// signal thread). A handle that refers to nothing gives an empty, unanswered node.
ServiceNode inspect(const ServiceHandle& handle, Seconds timeout = 1.0);

}  // namespace mode
