// Looking into running services from outside their actors: the snapshot message a
// service actor answers (for the console, SIGUSR1/SIGUSR2 and mode::inspect), and
// the activity marking the blocking detector reads. Private to the library.
#pragma once

#include <cstdint>
#include <map>
#include <source_location>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "mode/blocking_detector.hpp"
#include "mode/graph.hpp"
#include "service_actor.hpp"

namespace mode::detail {

// -- snapshots ------------------------------------------------------------------------------

/// Asks a service actor for its service_snapshot.
using introspect_atom = caf::atom_constant<caf::atom("m_intro")>;

/// One service as its own actor sees it, with handles on its children's actors so the
/// asker can walk down the tree.
struct service_snapshot {
  std::string label;
  std::string shortlabel;
  std::int32_t state = 0;  ///< a ServiceState
  std::int32_t restart_count = 0;
  std::vector<std::string> flags;
  std::map<std::string, std::string> tracebacks;
  /// Each child's type name (shown if it does not answer; its label() is not ours
  /// to call from this actor).
  std::vector<std::string> child_types;
  /// Each child's actor; invalid for a child that has no actor (not started yet).
  std::vector<caf::actor> child_actors;
  /// Each child's state (a ServiceState) if its actor has exited (a child stopped for
  /// good ends its actor), read by the parent, which may then; -1: ask the actor.
  std::vector<std::int32_t> child_states;
  /// Each child's restart_count, where child_states has a state.
  std::vector<std::int32_t> child_restart_counts;
  /// Seconds since the service last started, while it runs; else 0.
  double uptime_s = 0;
  /// A supervisor's held services come after the children in the child_* lists: how
  /// many children come first, then each held one's crash count and last crash.
  std::uint32_t plain_children = 0;
  std::vector<std::uint64_t> held_crashes;
  std::vector<std::string> held_last_crash;
  /// A supervisor's restart window (max_restarts < 0: not a supervisor).
  std::uint64_t restarts_in_window = 0;
  double max_restarts = -1;
  double window_s = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, service_snapshot& x) {
  return f(caf::meta::type_name("mode_service_snapshot"), x.label, x.shortlabel, x.state,
           x.restart_count, x.flags, x.tracebacks, x.child_types, x.child_actors, x.child_states,
           x.child_restart_counts, x.uptime_s, x.plain_children, x.held_crashes, x.held_last_crash,
           x.restarts_in_window, x.max_restarts, x.window_s);
}

/// Answers introspect_atom: the snapshot of `self`'s service. Runs on `self`.
service_snapshot introspect(service_actor& self);

/// Gathers the tree below `root` by asking each actor in turn, each ask bounded by
/// `timeout`; `root_label` names the root if it does not answer. From a thread that is
/// not an actor of `sys`.
ServiceNode inspect_actor(caf::actor_system& sys, const caf::actor& root, std::string root_label,
                          Seconds timeout);

/// The tree below `svc` as its objects tell it, for a service whose actor has exited
/// (children that still have an actor are left out).
ServiceNode exited_node(const Service& svc, int depth);

/// The class name of `svc` without namespaces (Service::label()'s default), safe to
/// call from any thread.
std::string type_label(const Service& svc);

// -- activity marking -------------------------------------------------------------------------

/// The kind of message `x` is, as a static string for ActivitySlot ("resume",
/// "timeout", "begin", "start", "response", "exit_msg", ...); for a wake-up or timeout
/// also where the woken task had been waiting.
const char* message_kind(service_actor& self, caf::mailbox_element& x,
                         std::source_location& where) noexcept;

/// Marks `slot` busy with message `x` for the guard's lifetime (exceptions included).
class activity_guard {
 public:
  activity_guard(service_actor& self, ActivitySlot& slot, caf::mailbox_element& x) noexcept
      : slot_(slot) {
    std::source_location where{};
    const char* kind = message_kind(self, x, where);
    token_ = slot_.enter(kind, where);
  }
  ~activity_guard() { slot_.leave(token_); }
  activity_guard(const activity_guard&) = delete;
  activity_guard& operator=(const activity_guard&) = delete;

 private:
  ActivitySlot& slot_;
  ActivitySlot::token token_ = 0;
};

}  // namespace mode::detail
