// mode::RemoteChild on its actor: builds, starts, watches and stops a service on another
// node through the node protocol (node_protocol.hpp), each call through a remote-call
// helper so that a lost node ends it at once (remote_call.hpp).
#include "mode/remote_child.hpp"

#include <optional>
#include <stdexcept>
#include <tuple>

#include <utility>

#include <fmt/format.h>
#include <caf/all.hpp>

#include "mode/errors.hpp"
#include "mode/logging.hpp"
#include "mode/request.hpp"
#include "node_protocol.hpp"
#include "remote_call.hpp"
#include "service_actor.hpp"

namespace mode {

namespace {

detail::service_actor& own_actor(const RemoteChild& child) {
  auto* self = detail::running_actor();
  if (self == nullptr || &self->service() != &child)
    throw std::logic_error("mode: " + child.label() +
                           ": a RemoteChild's lifecycle runs on its own actor only");
  return *self;
}

/// What a remote call ended with: the target's error (empty on success) and its reply.
struct remote_outcome {
  caf::error error;
  caf::message reply;
};

/// Sends `msg` to `target` through a helper that answers as soon as `target` goes down
/// (remote_call.hpp); resumes with the outcome, never throwing for the target's error.
template <class... Ts>
task<remote_outcome> remote_call(detail::service_actor& self, caf::actor target, Seconds timeout,
                                 caf::message msg) {
  auto helper = detail::spawn_remote_call<detail::remote_answer::error_and_reply, Ts...>(
      self.home_system(), std::move(target), timeout, std::move(msg));
  remote_outcome out;
  try {
    auto [err, reply] = co_await request<std::tuple<caf::error, caf::message>>(
        helper, detail::helper_deadline(timeout), detail::remote_call_atom::value);
    out = {std::move(err), std::move(reply)};
  } catch (const TimeoutError&) {
    out.error = caf::sec::request_timeout;
  }
  co_return out;
}

/// The text of a node's answer: its own words for a mode error, CAF's otherwise.
std::string answer_text(const caf::error& err, Seconds timeout) {
  if (err == caf::sec::request_receiver_down)
    return "lost";
  if (err == caf::sec::request_timeout)
    return fmt::format("no answer within {}", to_string(timeout));
  return detail::error_text(err);
}

bool is_crash(const caf::error& err) {
  return err.category() == detail::error_category &&
         err.code() == static_cast<std::uint8_t>(detail::errc::crashed);
}

std::string node_list(const std::vector<RemoteNode>& nodes) {
  std::string out;
  for (const auto& n : nodes)
    out += (out.empty() ? "" : ", ") + n.name();
  return out;
}

bool same_actor(const caf::actor_addr& addr, const caf::actor& hdl) noexcept {
  return hdl && addr == hdl.address();
}

}  // namespace

RemoteChild::RemoteChild(std::vector<RemoteNode> nodes, std::string type, caf::message args)
    : nodes_(std::move(nodes)), type_(std::move(type)), args_(std::move(args)) {
  if (type_.empty())
    throw std::invalid_argument("mode::RemoteChild: the service type name is empty");
  if (nodes_.empty())
    throw std::invalid_argument("mode::RemoteChild('" + type_ + "'): no node to run it on");
  for (const auto& n : nodes_)
    if (!n.actor())
      throw std::invalid_argument("mode::RemoteChild('" + type_ +
                                  "'): an empty RemoteNode names no node");
  timeout_ = nodes_.front().request_timeout();
}

std::string RemoteChild::current_node() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return current_.service ? current_.node : std::string{};
}

std::set<std::string> RemoteChild::lost_nodes() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return lost_;
}

std::string RemoteChild::label() const {
  std::lock_guard<std::mutex> guard{mtx_};
  // The node stays in the label until the actor exits, so that its crash names it.
  if (!current_.node.empty())
    return type_ + "@" + current_.node;
  std::vector<RemoteNode> candidates;
  for (const auto& n : nodes_)
    if (lost_.count(n.name()) == 0)
      candidates.push_back(n);
  return type_ + "@{" + node_list(candidates.empty() ? nodes_ : candidates) + "}";
}

std::string RemoteChild::shortlabel() const {
  return label();
}

void RemoteChild::set_running(running_on where) {
  std::lock_guard<std::mutex> guard{mtx_};
  current_ = std::move(where);
}

void RemoteChild::set_gone() {
  std::lock_guard<std::mutex> guard{mtx_};
  current_.service = nullptr;
}

void RemoteChild::mark_lost(const std::string& node) {
  std::lock_guard<std::mutex> guard{mtx_};
  lost_.insert(node);
}

bool RemoteChild::is_lost(const std::string& node) const {
  std::lock_guard<std::mutex> guard{mtx_};
  return lost_.count(node) > 0;
}

task<void> RemoteChild::on_start() {
  auto& self = own_actor(*this);
  running_on leftover;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopping_ = false;
    leftover = std::exchange(current_, running_on{});
  }
  // A restart in place: whatever still runs for this child ends first (never two copies).
  if (leftover.service)
    caf::anon_send_exit(leftover.service, caf::exit_reason::user_shutdown);
  auto stopped_meanwhile = [this] {
    std::lock_guard<std::mutex> guard{mtx_};
    return stopping_;
  };
  // Each actor of this service watches the nodes: a node lost while its service runs
  // there is a crash even before the service's own down message arrives.
  for (const auto& n : nodes_)
    if (!is_lost(n.name()))
      self.monitor(n.actor());
  std::string failures;
  for (const auto& n : nodes_) {
    auto note = [&](std::string_view why) {
      failures += fmt::format("{}{}: {}", failures.empty() ? "" : "; ", n.name(), why);
    };
    if (is_lost(n.name())) {
      note("lost");
      continue;
    }
    auto made = co_await remote_call<caf::actor, std::string>(
        self, n.actor(), timeout_,
        caf::make_message(detail::node_spawn_atom::value, type_, args_,
                          caf::actor_cast<caf::actor>(&self)));
    if (made.error) {
      if (made.error == caf::sec::request_receiver_down)
        mark_lost(n.name());
      note(answer_text(made.error, timeout_));
      continue;
    }
    auto remote = made.reply.get_as<caf::actor>(0);
    if (stopped_meanwhile()) {
      // The stop ran while the spawn was in flight and found nothing to stop.
      caf::anon_send_exit(remote, caf::exit_reason::user_shutdown);
      co_return;
    }
    self.monitor(remote);
    set_running({remote, n.name()});
    auto started = co_await remote_call<>(self, remote, timeout_,
                                          caf::make_message(detail::start_atom::value, true));
    if (auto& err = started.error) {
      set_gone();
      self.demonitor(remote);
      auto where = fmt::format("node {}: ", n.name());
      if (is_crash(err))
        throw ServiceCrashed(where + detail::error_text(err));
      // Its actor went without an answer. Whether its node went too, the node actor's own
      // down message tells (it marks the node lost).
      if (err == caf::sec::request_receiver_down)
        throw ServiceNotRunning(where + type_ + " ended before it started");
      if (err == caf::sec::request_timeout)
        throw TimeoutError(fmt::format("mode: {}start of {} timed out after {}", where, type_,
                                       to_string(timeout_)));
      throw RequestError(
          fmt::format("mode: {}start of {}: {}", where, type_, detail::error_text(err)));
    }
    log().info("{} running on node {}", type_, n.name());
    co_return;
  }
  throw NodeError(fmt::format("mode::RemoteChild: no node of {{{}}} made a '{}': {}",
                              node_list(nodes_), type_, failures));
}

task<void> RemoteChild::on_stop() {
  auto& self = own_actor(*this);
  running_on was;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopping_ = true;
    was = current_;
  }
  if (!was.service)
    co_return;
  auto stopped = co_await remote_call<>(self, was.service, timeout_,
                                        caf::make_message(detail::stop_atom::value));
  // Gone already (crashed, or its node lost) counts as stopped.
  bool killed = stopped.error && stopped.error != caf::sec::request_receiver_down;
  if (killed) {
    get_logger("mode.node")
        ->warn("{}: stopping its service on node {}: {}; killing its actor", label(), was.node,
               answer_text(stopped.error, timeout_));
    caf::anon_send_exit(was.service, caf::exit_reason::kill);
  }
  self.demonitor(was.service);
  set_gone();
}

void RemoteChild::on_down_message(const caf::down_msg& msg) {
  running_on now;
  bool stopping = false;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopping = stopping_;
    now = current_;
  }
  // A node lost is recorded even during a stop: it is not tried again.
  for (const auto& n : nodes_)
    if (same_actor(msg.source, n.actor())) {
      mark_lost(n.name());
      if (!stopping && n.name() == now.node && now.service) {
        set_gone();
        crash(std::make_exception_ptr(
            NodeLost(fmt::format("node {} was lost ({})", now.node, caf::to_string(msg.reason)))));
      }
      return;
    }
  if (stopping || !same_actor(msg.source, now.service))
    return;  // during a stop, on_stop answers for the remote service
  set_gone();
  if (msg.reason == caf::exit_reason::remote_link_unreachable) {
    mark_lost(now.node);
    crash(std::make_exception_ptr(NodeLost(fmt::format(
        "node {} was lost (its process ended, or it went silent past the connection timeout)",
        now.node))));
  } else if (msg.reason) {
    crash(std::make_exception_ptr(
        ServiceCrashed(fmt::format("node {}: {}", now.node, detail::error_text(msg.reason)))));
  } else {
    crash(std::make_exception_ptr(ServiceNotRunning(
        fmt::format("node {}: {} stopped there (not by its supervisor)", now.node, type_))));
  }
}

void RemoteChild::on_actor_exit(const caf::error& failure) noexcept {
  running_on was;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    was = current_;
    current_ = running_on{};  // the next actor's label names the nodes it may run on
  }
  // Killed before its stop ran: the remote service must not outlive its supervision.
  if (failure && was.service)
    caf::anon_send_exit(was.service, caf::exit_reason::user_shutdown);
}

}  // namespace mode
