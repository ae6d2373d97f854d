// mode::RemoteChild: a supervisor's child spec for a service on another node: "a
// Fetcher on node B", or "on any node of {B, C}". Held by a supervisor like any service,
// it builds the service of a registered type on the first reachable node of its set,
// starts it and monitors it; when the remote service crashes, stops or its node is lost,
// the RemoteChild crashes with the reason, and the supervisor's strategy and restart
// window apply unchanged. Its restart builds a fresh remote service, on the first node
// of the set that is not lost: a killed node's work moves to the next one.
//
//   auto b = node.connect(mode::parse_peer("127.0.0.1:4711"));
//   auto c = node.connect(mode::parse_peer("127.0.0.1:4712"));
//   auto sup = std::make_shared<mode::OneForOneSupervisor>();
//   sup->add(mode::RemoteChild::make({b, c}, "Fetcher", std::string{"https://example.com"}));
//
// Crash reasons name the node: `node b: Fetcher <- std::runtime_error: boom` (a
// ServiceCrashed), `node b was lost: ...` (a NodeLost). Every remote call has the
// nodes' request_timeout as its deadline, and ends at once when the node is lost: a
// lost node never holds up a stop or a restart.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/message.hpp>

#include "mode/detail/watching_service.hpp"
#include "mode/node.hpp"
#include "mode/task.hpp"

namespace mode {

class RemoteChild : public detail::watching_service {
 public:
  /// A service of registered type `type`, built with constructor arguments `args`, on
  /// the first reachable node of `nodes` (in that order). std::invalid_argument if
  /// `nodes` is empty or holds an empty RemoteNode, or `type` is empty.
  RemoteChild(std::vector<RemoteNode> nodes, std::string type, caf::message args = {});

  /// RemoteChild with the arguments as values.
  template <class... Args>
  static std::shared_ptr<RemoteChild> make(std::vector<RemoteNode> nodes, std::string type,
                                           Args&&... args) {
    return std::make_shared<RemoteChild>(std::move(nodes), std::move(type),
                                         caf::make_message(std::forward<Args>(args)...));
  }

  /// The registered type it builds.
  [[nodiscard]] const std::string& type() const noexcept { return type_; }

  /// The nodes it may run on, in the order they are tried.
  [[nodiscard]] const std::vector<RemoteNode>& nodes() const noexcept { return nodes_; }

  /// The name of the node its service runs on now ("" while it runs nowhere).
  /// Thread-safe.
  [[nodiscard]] std::string current_node() const;

  /// The names of the nodes it has seen lost; they are not tried again. Thread-safe.
  [[nodiscard]] std::set<std::string> lost_nodes() const;

  /// `<type>@<node>` while its service runs on a node (and, after a crash, until its
  /// actor exits: the crash names the node); `<type>@{b, c}` otherwise: the nodes it may
  /// run on, those lost left out (all of them if every one is lost).
  [[nodiscard]] std::string label() const override;
  /// The label: the node is what tells two remote children apart in a log.
  [[nodiscard]] std::string shortlabel() const override;

  /// Builds the remote service on the first node of the set that makes it, and starts
  /// it. Fails (a crash, as any start that fails) with NodeError naming every node's
  /// answer if none makes it, and with the remote chain if the remote service crashes
  /// while starting.
  task<void> on_start() override;
  /// Stops the remote service; one that does not answer in time has its actor killed.
  task<void> on_stop() override;

 protected:
  void on_down_message(const caf::down_msg& msg) override;
  void on_actor_exit(const caf::error& failure) noexcept override;

 private:
  struct running_on {
    caf::actor service;  ///< the remote service's actor (a proxy)
    std::string node;    ///< the name of the node it runs on
  };

  void set_running(running_on where);
  /// Its remote service is gone; the label keeps the node it ran on.
  void set_gone();
  void mark_lost(const std::string& node);
  bool is_lost(const std::string& node) const;

  std::vector<RemoteNode> nodes_;
  std::string type_;
  caf::message args_;
  Seconds timeout_;

  mutable std::mutex mtx_;  // guards what follows: label() is read from other threads
  running_on current_;      // the service is empty while none runs
  std::set<std::string> lost_;
  bool stopping_ = false;  // set by on_stop: the remote service's down is then expected
};

}  // namespace mode
