// mode::ClusterSignal: a Signal heard on every node of a cluster.
//
// Each node that wants the signal makes a ClusterSignal of the same name and argument types on
// its mode::Node; a send on one node runs the receivers of every node it talks to (its peers,
// and the nodes that connected to it), each node's by its own Signal's rules (receivers of a
// service on that service's actor). Senders are identified by a string key, so that a sender
// filter means the same on every node:
//
//   mode::ClusterSignal<std::string, int> orders{node, "orders"};   // on every node
//   orders.connect([](const std::string& sender, const std::string& item, int n) { ... },
//                  {.sender = "shop-1"});                           // only shop-1's sends
//   orders.send_nowait("shop-1", "apples", 3);                      // here and on the peers
//
// What travels: the arguments, which must be types CAF serializes (numbers, strings, atoms,
// vectors and maps of them, or types announced to CAF). A node checks them against its own
// declaration and drops (with a warning naming the signal) a send that does not fit. A send is
// fire and forget: at most once per node, no acknowledgement; a node that went is no longer
// sent to, and its receivers are gone with it. Receivers not bound to a service run on the
// node's actor when a peer's send arrives: keep them short, or bind them to a service. Sends from
// one node to another arrive in order.
#pragma once

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include <fmt/format.h>
#include <caf/message.hpp>

#include "mode/detail/demangle.hpp"
#include "mode/node.hpp"
#include "mode/signal.hpp"

namespace mode {

template <class... Args>
class ClusterSignal {
  static_assert((!std::is_reference_v<Args> && ...),
                "mode::ClusterSignal: arguments travel to other nodes: declare them as values");

 public:
  /// The local signal behind it: its sender is the key.
  using signal_type = Signal<std::string, Args...>;

  /// connect() options (`.sender = "key"` filters on a sender).
  using options = typename signal_type::options;

  /// Joins the cluster signal `name` on `node`. std::invalid_argument if the name is empty or
  /// another ClusterSignal of this node has it. It may outlive the node: it is then a local
  /// Signal (a Worker ends its node before its services are destroyed).
  ClusterSignal(Node& node, std::string name) : state_(std::make_shared<state>(name)) {
    std::weak_ptr<state> weak = state_;
    route_ = node.route_signal(
        std::move(name), [weak](const std::string& sender, const caf::message& args) {
          auto st = weak.lock();
          if (!st)
            return;
          if (!args.match_elements<Args...>())
            throw std::invalid_argument(
                fmt::format("its arguments {} do not fit ({})", caf::to_string(args), signature()));
          deliver(*st, sender, args, std::index_sequence_for<Args...>{});
        });
  }

  ClusterSignal(const ClusterSignal&) = delete;
  ClusterSignal& operator=(const ClusterSignal&) = delete;

  /// The name the nodes agree on.
  [[nodiscard]] const std::string& name() const noexcept { return state_->sig.name(); }

  /// The argument types, as a peer's mismatching send is told (`std::string, int`).
  [[nodiscard]] static std::string signature() {
    std::string out;
    ((out += (out.empty() ? "" : ", ") + detail::type_name(typeid(Args))), ...);
    return out.empty() ? std::string{"no arguments"} : out;
  }

  /// This node's signal: connect and disconnect receivers here (every form Signal has).
  [[nodiscard]] signal_type& signal() noexcept { return state_->sig; }

  /// Connects a receiver `R(const std::string& sender, args...)` on this node (Signal's
  /// connect()); `{.sender = "key"}` hears only that sender, from any node.
  template <class F>
  receiver_id connect(F&& fun, options opts = {}) {
    return state_->sig.connect(std::forward<F>(fun), std::move(opts));
  }

  /// Sends as `sender`: starts this node's receivers (as Signal::send_nowait) and sends to every
  /// node this one talks to. Returns how many nodes it was sent to besides this one. From any
  /// thread.
  std::size_t send_nowait(const std::string& sender, const Args&... args) const {
    state_->sig.send_nowait(sender, args...);
    return route_.broadcast(sender, caf::make_message(args...));
  }

 private:
  struct state {
    explicit state(const std::string& name) : sig(name, "") {}
    signal_type sig;
  };

  template <std::size_t... I>
  static void deliver(state& st, const std::string& sender, const caf::message& args,
                      std::index_sequence<I...>) {
    st.sig.send_nowait(sender, args.get_as<Args>(I)...);
  }

  std::shared_ptr<state> state_;
  SignalRoute route_;  // after state_, so it ends first: no peer's send reaches a dead signal
};

}  // namespace mode
