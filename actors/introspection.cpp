#include "introspection.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <typeinfo>

#include <fmt/format.h>

#include "mode/detail/monitoring_service.hpp"
#include "mode/service_handle.hpp"

namespace mode::detail {

std::string type_label(const Service& svc) {
  int status = 0;
  const char* name = typeid(svc).name();
  std::unique_ptr<char, void (*)(void*)> out{abi::__cxa_demangle(name, nullptr, nullptr, &status),
                                             std::free};
  std::string text = status == 0 && out ? std::string{out.get()} : std::string{name};
  if (auto pos = text.rfind("::"); pos != std::string::npos && text.find('<') == std::string::npos)
    text.erase(0, pos + 2);
  return text;
}

// -- snapshots ------------------------------------------------------------------------------

service_snapshot introspect(service_actor& self) {
  auto& svc = self.service();
  service_snapshot snap;
  snap.label = svc.label();
  snap.shortlabel = svc.shortlabel();
  snap.state = static_cast<std::int32_t>(svc.state());
  snap.restart_count = svc.restart_count();
  snap.flags = svc.diag.flags();
  snap.tracebacks = svc.tracebacks();
  auto& actors = svc.binding()->children;
  for (std::size_t i = 0; i < svc.children().size(); ++i) {
    const auto& child = *svc.children()[i];
    snap.child_types.push_back(type_label(child));
    snap.child_actors.push_back(i < actors.size() ? actors[i] : caf::actor{});
    // Once the child's actor exited, nothing else touches the child: the binding's
    // mutex orders its last writes before this read.
    bool exited = snap.child_actors.back() && !child.binding()->get();
    snap.child_states.push_back(exited ? static_cast<std::int32_t>(child.state()) : -1);
    snap.child_restart_counts.push_back(exited ? child.restart_count() : 0);
  }
  snap.uptime_s = std::chrono::duration<double>(svc.uptime()).count();
  snap.plain_children = static_cast<std::uint32_t>(snap.child_actors.size());
  if (const auto* sup = dynamic_cast<const monitoring_service*>(&svc)) {
    auto info = sup->supervision();
    for (auto& held : info.held) {
      snap.child_types.push_back(type_label(*held.service));
      // Without an actor nothing else touches the held object: the supervisor may read it.
      bool idle = !held.actor;
      snap.child_states.push_back(idle ? static_cast<std::int32_t>(held.service->state()) : -1);
      snap.child_restart_counts.push_back(idle ? held.service->restart_count() : 0);
      snap.child_actors.push_back(std::move(held.actor));
      snap.held_crashes.push_back(held.crashes);
      snap.held_last_crash.push_back(std::move(held.last_crash));
    }
    snap.restarts_in_window = info.restarts_in_window;
    snap.max_restarts = info.max_restarts;
    snap.window_s = info.window_s;
  }
  return snap;
}

ServiceNode exited_node(const Service& svc, int depth) {
  // Called only once svc's actor has exited: nothing else touches it any more.
  ServiceNode node;
  node.label = type_label(svc);
  node.state = std::string{to_string(svc.state())};
  node.restart_count = svc.restart_count();
  node.note = "its actor has exited";
  if (depth > 1000)
    return node;
  for (const auto& child : svc.children())
    if (!child->binding()->get())
      node.children.push_back(exited_node(*child, depth + 1));
  return node;
}

namespace {

ServiceNode gather(caf::scoped_actor& self, const caf::actor& who, std::string fallback_label,
                   const Seconds& timeout, int depth) {
  ServiceNode node;
  node.label = std::move(fallback_label);
  if (!who) {
    node.state = "init";
    node.note = "not started";
    return node;
  }
  service_snapshot snap;
  caf::error failure;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(timeout.duration());
  self->request(who, ms, introspect_atom::value)
      .receive([&](service_snapshot& answer) { snap = std::move(answer); },
               [&](caf::error& err) { failure = std::move(err); });
  if (failure) {
    node.note = failure == caf::sec::request_timeout
                    ? fmt::format("no answer within {}s: blocked?", timeout.count())
                    : std::string{"its actor exited"};
    return node;
  }
  node.answered = true;
  node.label = std::move(snap.label);
  node.shortlabel = std::move(snap.shortlabel);
  node.state = std::string{to_string(static_cast<ServiceState>(snap.state))};
  node.restart_count = snap.restart_count;
  node.flags = std::move(snap.flags);
  node.tracebacks = std::move(snap.tracebacks);
  node.uptime_s = snap.uptime_s;
  if (snap.max_restarts >= 0) {
    node.supervisor = true;
    node.restarts_in_window = snap.restarts_in_window;
    node.max_restarts = snap.max_restarts;
    node.window_s = snap.window_s;
  }
  // A tree deeper than this is a cycle, not a program.
  if (depth > 1000)
    return node;
  for (std::size_t i = 0; i < snap.child_actors.size(); ++i) {
    ServiceNode child;
    if (i < snap.child_states.size() && snap.child_states[i] >= 0) {
      child.label = std::move(snap.child_types[i]);
      child.state = std::string{to_string(static_cast<ServiceState>(snap.child_states[i]))};
      child.restart_count = snap.child_restart_counts[i];
      child.note = "its actor has exited";
    } else {
      child =
          gather(self, snap.child_actors[i], std::move(snap.child_types[i]), timeout, depth + 1);
    }
    if (i >= snap.plain_children) {
      auto h = i - snap.plain_children;
      child.held = true;
      child.crashes = h < snap.held_crashes.size() ? snap.held_crashes[h] : 0;
      if (h < snap.held_last_crash.size())
        child.last_crash = std::move(snap.held_last_crash[h]);
    }
    node.children.push_back(std::move(child));
  }
  return node;
}

}  // namespace

ServiceNode inspect_actor(caf::actor_system& sys, const caf::actor& root, std::string root_label,
                          Seconds timeout) {
  ServiceNode result;
  {
    caf::scoped_actor self{sys};
    result = gather(self, root, std::move(root_label), timeout, 0);
  }
  // A scoped_actor pins the system's logger in a thread_local of this thread, and
  // ~actor_system waits for that reference: a console or signal thread that outlives
  // the system would hang it. Let go of it now.
  caf::logger::set_current_actor_system(nullptr);
  return result;
}

// -- activity marking ---------------------------------------------------------------------------

const char* message_kind(service_actor& self, caf::mailbox_element& x,
                         std::source_location& where) noexcept {
  if (x.mid.is_response())
    return "response";
  auto& content = x.content();
  if (content.size() == 0)
    return "message";
  if (content.match_element<caf::atom_value>(0)) {
    auto atom = content.get_as<caf::atom_value>(0);
    bool wake = atom == wake_atom::value;
    if ((wake || atom == timeout_atom::value) && content.size() == 2 &&
        content.match_element<std::uint64_t>(1)) {
      if (auto* node = self.host().find(content.get_as<std::uint64_t>(1)))
        where = node->where;
      return wake ? "resume" : "timeout";
    }
    if (atom == begin_atom::value)
      return "begin";
    if (atom == start_atom::value)
      return "start";
    if (atom == stop_atom::value)
      return "stop";
    if (atom == restart_atom::value)
      return "restart";
    if (atom == crash_atom::value)
      return "crash";
    return "query";
  }
  if (content.match_element<caf::exit_msg>(0))
    return "exit_msg";
  if (content.match_element<caf::down_msg>(0))
    return "down_msg";
  return "message";
}

}  // namespace mode::detail

namespace mode {

ServiceNode inspect(const ServiceHandle& handle, Seconds timeout) {
  if (!handle)
    return ServiceNode{};
  auto hdl = handle.actor();
  const auto& svc = *handle.service();
  // No actor any more (stopped for good, or crashed): the objects tell what they were.
  if (!svc.binding()->get())
    return detail::exited_node(svc, 0);
  auto label = detail::type_label(svc);
  return detail::inspect_actor(hdl->home_system(), hdl, std::move(label), timeout);
}

}  // namespace mode
