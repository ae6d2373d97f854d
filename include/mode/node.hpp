// mode::Node: this process as a node of a cluster over CAF's io module (libcaf_io). A
// node publishes itself on a port (127.0.0.1 unless the options name another address),
// connects to peers, and lets peers create services of the types registered on it;
// RemoteService is the handle to a service on another node.
//
//   caf::actor_system_config cfg;
//   mode::NodeOptions opts;
//   opts.name = "fetchers-1";
//   opts.port = 4711;
//   mode::configure_node(cfg, opts);         // before the system: loads the middleman
//   caf::actor_system sys{cfg};
//   mode::Node node{sys, opts};              // published on 127.0.0.1:4711
//   node.register_service<Fetcher, std::string>("Fetcher");
//
//   // elsewhere:
//   auto peer = node.connect(mode::parse_peer("127.0.0.1:4711"));
//   auto fetcher = peer.spawn("Fetcher", std::string{"https://example.com"});
//   fetcher.start();
//
// What travels: atoms, strings, integers and the other types CAF serializes; the
// arguments of a registered type's constructor are checked against its declared types
// on the node that builds it. Every remote call has a deadline (request_timeout): a
// dead or hung node is an error, never a hang. Delivery is CAF's: at most once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/message.hpp>

#include "mode/detail/demangle.hpp"
#include "mode/node_options.hpp"
#include "mode/service_state.hpp"
#include "mode/times.hpp"

namespace mode {

class Service;
class SignalRoute;

namespace detail {
struct node_state;  // actors/node.cpp
}  // namespace detail

/// A node could not do what was asked of it: its port is in use, a peer cannot be reached
/// or answered with something else than a node, a type name is not registered there.
/// what() names the address or the type.
class NodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A node was lost while a call to it was in flight, or before it: its process ended
/// (the connection closed), or it went silent for longer than the connection timeout.
/// A lost RemoteNode stays lost: connect() again once the node is back.
class NodeLost : public NodeError {
 public:
  using NodeError::NodeError;
};

/// Prepares `cfg` for a node: loads CAF's middleman and sets its heartbeat interval and
/// connection timeout from `opts`. Call it before building the actor system.
/// std::invalid_argument if the options do not validate().
void configure_node(caf::actor_system_config& cfg, const NodeOptions& opts);

/// A service living on another node (made by RemoteNode::spawn). Copies name the same
/// service. Calls block the calling thread (never call them from an actor) for at most
/// the node's request_timeout, or the timeout given.
class RemoteService {
 public:
  RemoteService() = default;

  /// The service's label on its node.
  const std::string& label() const noexcept { return label_; }

  /// The name of the node it lives on.
  const std::string& node() const noexcept { return node_; }

  /// The service's actor (a proxy of the remote actor).
  const caf::actor& actor() const noexcept { return actor_; }

  /// mode: start(). ServiceCrashed if it crashed starting, TimeoutError past the deadline,
  /// ServiceNotRunning if its actor (or its node) is gone.
  void start() const;

  /// mode: stop(). A service whose actor or node is gone counts as stopped.
  void stop() const;

  /// mode: restart().
  void restart() const;

  /// Its state, asked of its actor (ServiceNotRunning if its actor or node is gone).
  ServiceState state() const;

  /// Waits until it stopped or its node was lost: true, or false if `timeout` passed.
  bool wait_until_stopped(Seconds timeout) const;

 private:
  friend class RemoteNode;
  RemoteService(caf::actor actor, std::string label, std::string node, Seconds timeout);

  caf::actor actor_;
  std::string label_;
  std::string node_;
  Seconds timeout_{5.0};
};

/// Another node, as this one reached it (Node::connect).
class RemoteNode {
 public:
  RemoteNode() = default;

  /// Its name (NodeOptions::name there).
  const std::string& name() const noexcept { return name_; }

  /// Where it was reached.
  const PeerAddress& address() const noexcept { return address_; }

  /// The deadline of each call to it (the connecting node's request_timeout).
  Seconds request_timeout() const noexcept { return timeout_; }

  /// The service types registered there, sorted.
  const std::vector<std::string>& service_types() const noexcept { return types_; }

  /// Creates a service of registered type `type` there with constructor arguments
  /// `args` (not started; start() it). NodeError if the type is unknown there or the
  /// arguments do not fit its constructor (naming both), NodeLost if the node is gone,
  /// TimeoutError past the deadline.
  template <class... Args>
  RemoteService spawn(const std::string& type, Args&&... args) const {
    return spawn_message(type, caf::make_message(std::forward<Args>(args)...));
  }

  /// spawn() with the arguments in a message.
  RemoteService spawn_message(const std::string& type, caf::message args) const;

  /// The node's actor (a proxy).
  const caf::actor& actor() const noexcept { return actor_; }

 private:
  friend class Node;
  RemoteNode(caf::actor actor, std::string name, PeerAddress address,
             std::vector<std::string> types, Seconds timeout);

  caf::actor actor_;
  std::string name_;
  PeerAddress address_;
  std::vector<std::string> types_;
  Seconds timeout_{5.0};
};

/// A cluster signal's place on a node (Node::route_signal): peers' sends of its name reach its
/// route until it is destroyed. It may outlive its node (a service holding a ClusterSignal
/// outlives a Worker's node): it does nothing then.
class SignalRoute {
 public:
  SignalRoute() = default;
  ~SignalRoute();
  SignalRoute(SignalRoute&&) noexcept = default;
  SignalRoute& operator=(SignalRoute&&) noexcept = default;

  /// Sends (name, sender, args) to every node the node talks to (Node::peer_names()); returns
  /// how many (0 once the node is gone). Fire and forget: at most once, no acknowledgement.
  std::size_t broadcast(const std::string& sender, const caf::message& args) const;

 private:
  friend class Node;
  std::weak_ptr<detail::node_state> node_;
  std::string name_;
};

/// This process's node. Publishes its actor when built (NodeError naming host:port if
/// it cannot), connects to the peers of its options (NodeError naming the first that
/// cannot be reached), and unpublishes when destroyed. Services that peers created here
/// live until they stop or the node goes; the node stops those still running then.
class Node {
 public:
  /// Builds a service of one registered type from the arguments a peer sent; throws
  /// std::invalid_argument if they do not fit.
  using factory_type = std::function<std::shared_ptr<Service>(const caf::message& args)>;

  /// `sys` must have been configured with configure_node().
  Node(caf::actor_system& sys, NodeOptions opts);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  /// NodeOptions::name (filled in if it was empty).
  const std::string& name() const noexcept;

  /// The port it listens on.
  std::uint16_t port() const noexcept;

  /// The host it listens on.
  const std::string& host() const noexcept;

  /// Lets peers create services of type `T` by `type_name`, built as `T(args...)` from
  /// arguments of exactly the types `Args` (spelled as values: `std::string`, not
  /// `const std::string&`). std::invalid_argument if the name is empty or taken.
  template <class T, class... Args>
  void register_service(std::string type_name) {
    static_assert(std::is_base_of_v<Service, T>, "register_service<T>: T must be a mode::Service");
    static_assert((!std::is_reference_v<Args> && ...),
                  "register_service<T, Args...>: spell the argument types as values");
    register_factory(std::move(type_name), arguments_of<Args...>(),
                     [](const caf::message& m) -> std::shared_ptr<Service> {
                       return build<T, Args...>(m, std::index_sequence_for<Args...>{});
                     });
  }

  /// register_service() with a factory of your own (it checks the arguments itself).
  void register_factory(std::string type_name, std::string signature, factory_type factory);

  /// The registered type names, sorted.
  std::vector<std::string> service_types() const;

  /// Connects to the node at `peer` (or returns the connection made before). NodeError
  /// naming `peer` if nothing answers there in time or it is not a mode node.
  RemoteNode connect(const PeerAddress& peer);

  /// The peers connected so far (through the options or connect()).
  std::vector<RemoteNode> peers() const;

  /// The names of every node this one talks to: its peers, and the nodes that connected
  /// to it, sorted. A node that went is left out.
  std::vector<std::string> peer_names() const;

  // -- cluster-wide signals (mode/cluster_signal.hpp builds on these) --------------------

  /// Delivers a send of a cluster signal that came from a peer: its sender key and its
  /// arguments. Throws std::invalid_argument if the arguments do not fit (the node logs it
  /// and drops the send). Runs on the node's actor.
  using signal_route = std::function<void(const std::string& sender, const caf::message& args)>;

  /// Routes the sends of cluster signal `name` that peers make to `route`, for as long as
  /// the returned SignalRoute lives. std::invalid_argument if the name is empty or taken on
  /// this node.
  SignalRoute route_signal(std::string name, signal_route route);

 private:
  template <class... Args>
  static std::string arguments_of();

  template <class T, class... Args, std::size_t... I>
  static std::shared_ptr<Service> build(const caf::message& m, std::index_sequence<I...>) {
    if (!m.match_elements<Args...>())
      throw std::invalid_argument("the arguments " + caf::to_string(m) + " do not fit (" +
                                  arguments_of<Args...>() + ")");
    return std::make_shared<T>(m.get_as<Args>(I)...);
  }

  std::shared_ptr<detail::node_state> state_;
};

template <class... Args>
std::string Node::arguments_of() {
  std::string out;
  ((out += (out.empty() ? "" : ", ") + detail::type_name(typeid(Args))), ...);
  return out;
}

}  // namespace mode
