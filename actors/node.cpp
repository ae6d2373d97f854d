// mode::Node on CAF's io module: the node actor peers talk to, peer connections, and
// RemoteNode / RemoteService as blocking handles (mode/node.hpp).
#include "mode/node.hpp"

#include <unistd.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <tuple>

#include <fmt/format.h>
#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include "mode/detail/reply.hpp"
#include "mode/errors.hpp"
#include "mode/logging.hpp"
#include "mode/service.hpp"
#include "mode/service_handle.hpp"
#include "node_protocol.hpp"
#include "remote_call.hpp"
#include "service_actor.hpp"

namespace mode {

namespace {

std::shared_ptr<spdlog::logger> node_log() {
  return get_logger("mode.node");
}

caf::timespan to_timespan(Seconds s) {
  return std::chrono::duration_cast<caf::timespan>(s.duration());
}

// The blocking calls (connect, spawn, RemoteService's) wait on a scoped_actor whose helper
// needs a scheduler thread: on an actor's thread they would hold that thread.
void require_plain_thread(caf::actor_system& sys) {
  if (detail::running_actor() != nullptr || detail::on_scheduler_thread(sys))
    throw std::logic_error(
        "mode: a blocking call of mode::Node, RemoteNode or RemoteService was made on an "
        "actor's thread, where it would block the scheduler; call it from a plain thread (use "
        "RemoteChild in a supervisor for services on other nodes)");
}

// Sends `msg` to the remote actor `target` and blocks until its reply, its down message
// or the deadline (see remote_call.hpp). `on_reply` takes the reply's elements (Ts...).
template <class... Ts, class OnReply>
caf::error call_remote(const caf::actor& target, Seconds timeout, caf::message msg,
                       OnReply on_reply) {
  auto& sys = target->home_system();
  require_plain_thread(sys);
  auto helper = detail::spawn_remote_call<detail::remote_answer::as_target, Ts...>(
      sys, target, timeout, std::move(msg));
  caf::error failure;
  caf::scoped_actor self{sys};
  // The helper answers by the deadline; the margin is for a machine under load.
  self->request(helper, detail::remote_deadline(detail::helper_deadline(timeout)),
                detail::remote_call_atom::value)
      .receive([&](Ts&... xs) { on_reply(xs...); },
               [&](caf::error& err) { failure = std::move(err); });
  return failure;
}

}  // namespace

namespace detail {

caf::duration remote_deadline(Seconds timeout) {
  return caf::duration{std::chrono::ceil<std::chrono::milliseconds>(timeout.duration())};
}

}  // namespace detail

void configure_node(caf::actor_system_config& cfg, const NodeOptions& opts) {
  validate(opts);
  cfg.load<caf::io::middleman>();
  if (opts.uses_tls()) {
    cfg.load<caf::openssl::manager>();
    cfg.openssl_certificate = opts.tls_certificate;
    cfg.openssl_key = opts.tls_key;
    cfg.openssl_passphrase = opts.tls_key_passphrase;
    cfg.openssl_cafile = opts.tls_ca_file;
  }
  cfg.set("middleman.heartbeat-interval", to_timespan(opts.heartbeat_interval));
  cfg.set("middleman.connection-timeout", to_timespan(opts.connection_timeout));
}

// -- the node actor ------------------------------------------------------------------------

namespace detail {

/// A service a peer made here, and the actor on that peer it lives for (if any).
struct hosted_service {
  ServiceHandle handle;
  caf::actor_addr owner;
};

struct node_state {
  caf::actor_system* sys = nullptr;
  NodeOptions opts;
  std::uint16_t port = 0;
  caf::actor actor;

  mutable std::mutex mtx;  // guards what follows
  struct registered {
    std::string signature;
    Node::factory_type factory;
  };
  std::map<std::string, registered> types;
  std::map<std::string, RemoteNode> peers;  // by to_string() of the address
  // Every node this one talks to, by its node actor: the peers it connected to and those
  // that connected to it (their hello named them). Cluster signals go to these.
  struct talking_to {
    caf::actor node;
    std::string name;
  };
  std::map<caf::actor_addr, talking_to> nodes;
  std::map<std::string, Node::signal_route> signals;  // cluster-wide signals, by name

  // Touched on the node actor only: the services peers made here, by actor id.
  std::map<caf::actor_id, hosted_service> hosted;

  std::vector<std::string> type_names() const {
    std::lock_guard<std::mutex> guard{mtx};
    std::vector<std::string> names;
    for (const auto& [name, t] : types)
      names.push_back(name);
    return names;
  }
};

}  // namespace detail

namespace {

// The middleman actor that makes this node's connections: the openssl module's for TLS.
caf::io::middleman_actor connections_of(const detail::node_state& st) {
  return st.opts.uses_tls() ? st.sys->openssl_manager().actor_handle()
                            : st.sys->middleman().actor_handle();
}

void unpublish(const detail::node_state& st) {
  caf::scoped_actor self{*st.sys};
  self->request(connections_of(st), detail::remote_deadline(st.opts.request_timeout),
                caf::unpublish_atom::value, st.actor.address(), st.port)
      .receive([] {},
               [&](const caf::error& err) {
                 node_log()->warn("Node {}: unpublishing port {}: {}", st.opts.name, st.port,
                                  st.sys->render(err));
               });
}

// Builds a service of a registered type for a peer and keeps its handle; with an owner,
// the service is stopped when the owner goes down.
caf::result<caf::actor, std::string> host(caf::event_based_actor* self,
                                          const std::weak_ptr<detail::node_state>& weak,
                                          const std::string& type, const caf::message& args,
                                          const caf::actor& owner) {
  auto st = weak.lock();
  if (!st)
    return caf::sec::request_receiver_down;
  Node::factory_type factory;
  {
    std::lock_guard<std::mutex> guard{st->mtx};
    auto i = st->types.find(type);
    if (i == st->types.end()) {
      std::string known;
      for (const auto& [name, t] : st->types)
        known += (known.empty() ? "" : ", ") + name;
      return detail::make_mode_error(
          detail::errc::handler_failed,
          fmt::format("node {}: no service type '{}' is registered (known: {})", st->opts.name,
                      type, known.empty() ? "none" : known));
    }
    factory = i->second.factory;
  }
  std::shared_ptr<Service> svc;
  try {
    svc = factory(args);
    if (!svc)
      throw std::logic_error("the factory returned nullptr");
  } catch (...) {
    return detail::make_mode_error(detail::errc::handler_failed,
                                   fmt::format("node {}: cannot make a '{}': {}", st->opts.name,
                                               type, describe_exception(std::current_exception())));
  }
  std::optional<ServiceHandle> made;
  std::string label;
  try {
    made.emplace(*st->sys, svc);  // reads the service's label()
    label = made->label();
  } catch (...) {
    return detail::make_mode_error(detail::errc::handler_failed,
                                   fmt::format("node {}: cannot run a '{}': {}", st->opts.name,
                                               type, describe_exception(std::current_exception())));
  }
  ServiceHandle handle = std::move(*made);
  auto hdl = handle.actor();
  self->monitor(hdl);
  if (owner)
    self->monitor(owner);
  st->hosted.emplace(hdl.id(), detail::hosted_service{std::move(handle), owner.address()});
  return {hdl, std::move(label)};
}

caf::behavior node_actor(caf::event_based_actor* self, std::weak_ptr<detail::node_state> weak) {
  self->set_default_handler(
      [](caf::scheduled_actor* me, caf::message_view& x) -> caf::result<caf::message> {
        auto msg = x.copy_content_to_message();
        node_log()->warn("Node actor {}: dropped a message it has no handler for: {}", me->id(),
                         caf::to_string(msg));
        return caf::sec::unexpected_message;
      });
  self->set_down_handler([self, weak](caf::scheduled_actor*, caf::down_msg& dm) {
    auto st = weak.lock();
    if (!st)
      return;
    // Only a service's own actor id is a key: another node's actor may have the same id.
    if (auto i = st->hosted.find(dm.source.id());
        i != st->hosted.end() && i->second.handle.actor().address() == dm.source) {
      st->hosted.erase(i);
      return;
    }
    bool owner = false;
    for (auto& [id, hosted] : st->hosted)
      if (hosted.owner && hosted.owner == dm.source) {
        owner = true;
        node_log()->warn("Node {}: the owner of {} here went down ({}): stopping it", st->opts.name,
                         hosted.handle.label(), caf::to_string(dm.reason));
        hosted.handle.send_stop();
        // A service that never started does not end its actor when stopped, and a stop may
        // hang: whatever is left by the deadline is ended.
        self->delayed_send(self, to_timespan(st->opts.request_timeout),
                           detail::node_reap_atom::value, id);
      }
    if (owner)
      return;
    std::lock_guard<std::mutex> guard{st->mtx};
    if (st->nodes.erase(dm.source) > 0)
      node_log()->info("Node {}: a node it talked to went: {}", st->opts.name,
                       caf::to_string(dm.reason));
    // Every entry of it: a node may have been reached under two spellings of its address.
    for (auto i = st->peers.begin(); i != st->peers.end();) {
      if (i->second.actor().address() != dm.source) {
        ++i;
        continue;
      }
      node_log()->warn("Node {}: lost peer {} at {}: {}", st->opts.name, i->second.name(), i->first,
                       caf::to_string(dm.reason));
      i = st->peers.erase(i);
    }
  });
  return {
      [weak](detail::node_hello_atom) -> caf::result<std::string, std::vector<std::string>> {
        auto st = weak.lock();
        if (!st)
          return caf::sec::request_receiver_down;
        return {st->opts.name, st->type_names()};
      },
      [self, weak](
          detail::node_hello_atom, const caf::actor& caller,
          const std::string& caller_name) -> caf::result<std::string, std::vector<std::string>> {
        auto st = weak.lock();
        if (!st)
          return caf::sec::request_receiver_down;
        if (caller) {
          self->monitor(caller);
          std::lock_guard<std::mutex> guard{st->mtx};
          st->nodes[caller.address()] = {caller, caller_name};
        }
        return {st->opts.name, st->type_names()};
      },
      [weak](detail::node_signal_atom, const std::string& name, const std::string& sender,
             const caf::message& args) {
        auto st = weak.lock();
        if (!st)
          return;
        Node::signal_route route;
        {
          std::lock_guard<std::mutex> guard{st->mtx};
          auto i = st->signals.find(name);
          if (i == st->signals.end())
            return;  // no receivers of it on this node
          route = i->second;
        }
        try {
          route(sender, args);
        } catch (...) {
          node_log()->warn("Node {}: dropped a send of cluster signal '{}' from a peer: {}",
                           st->opts.name, name, describe_exception(std::current_exception()));
        }
      },
      [weak](detail::node_reap_atom, caf::actor_id id) {
        auto st = weak.lock();
        if (!st)
          return;
        if (auto i = st->hosted.find(id); i != st->hosted.end()) {
          node_log()->warn("Node {}: {} did not end within {} of its stop: ending its actor",
                           st->opts.name, i->second.handle.label(),
                           to_string(st->opts.request_timeout));
          if (auto hdl = i->second.handle.actor())
            caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
        }
      },
      [self, weak](detail::node_spawn_atom, const std::string& type,
                   const caf::message& args) -> caf::result<caf::actor, std::string> {
        return host(self, weak, type, args, caf::actor{});
      },
      [self, weak](detail::node_spawn_atom, const std::string& type, const caf::message& args,
                   const caf::actor& owner) -> caf::result<caf::actor, std::string> {
        return host(self, weak, type, args, owner);
      },
      [self](detail::node_watch_atom, const caf::actor& peer) { self->monitor(peer); },
  };
}

}  // namespace

Node::Node(caf::actor_system& sys, NodeOptions opts)
    : state_(std::make_shared<detail::node_state>()) {
  if (!sys.has_middleman())
    throw NodeError(
        "mode::Node: the actor system has no middleman: call "
        "mode::configure_node(cfg, options) before building it");
  if (opts.uses_tls() && !sys.has_openssl_manager())
    throw NodeError(
        "mode::Node: TLS options, but the actor system has no openssl module: call "
        "mode::configure_node(cfg, options) with these options before building it");
  if (opts.name.empty())
    opts.name = fmt::format("node-{}", ::getpid());
  state_->sys = &sys;
  state_->opts = std::move(opts);
  auto& o = state_->opts;
  state_->actor = sys.spawn(node_actor, std::weak_ptr<detail::node_state>{state_});
  auto port = o.uses_tls() ? caf::openssl::publish(state_->actor, o.port, o.host.c_str(), false)
                           : sys.middleman().publish(state_->actor, o.port, o.host.c_str(), false);
  if (!port) {
    caf::anon_send_exit(state_->actor, caf::exit_reason::user_shutdown);
    throw NodeError(fmt::format("node {}: cannot listen on {}: {}", o.name,
                                PeerAddress{o.host, o.port}.to_string(), sys.render(port.error())));
  }
  state_->port = *port;
  node_log()->info("Node {}: listening on {}{}", o.name, PeerAddress{o.host, *port}.to_string(),
                   o.uses_tls() ? " (TLS)" : "");
  try {
    for (const auto& peer : o.peers)
      connect(peer);
  } catch (...) {
    unpublish(*state_);
    caf::anon_send_exit(state_->actor, caf::exit_reason::user_shutdown);
    throw;
  }
}

Node::~Node() {
  auto& sys = *state_->sys;
  unpublish(*state_);
  // The hosted handles are the node actor's; ask it for them rather than race it.
  caf::scoped_actor self{sys};
  caf::anon_send_exit(state_->actor, caf::exit_reason::user_shutdown);
  self->wait_for(state_->actor);
  for (auto& [id, hosted] : state_->hosted) {
    auto& handle = hosted.handle;
    try {
      handle.stop(state_->opts.request_timeout);
    } catch (const std::exception& e) {
      node_log()->warn("Node {}: stopping {} at the node's end: {}", state_->opts.name,
                       handle.label(), e.what());
    }
    // A service sent to a peer is in CAF's registry for as long as its actor lives, and a
    // service never started does not end its actor when stopped: end it here, or the
    // actor system would wait for it forever.
    if (auto hdl = handle.actor())
      caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
  }
  state_->hosted.clear();
}

const std::string& Node::name() const noexcept {
  return state_->opts.name;
}

std::uint16_t Node::port() const noexcept {
  return state_->port;
}

const std::string& Node::host() const noexcept {
  return state_->opts.host;
}

void Node::register_factory(std::string type_name, std::string signature, factory_type factory) {
  if (type_name.empty())
    throw std::invalid_argument("mode::Node::register_service: the type name is empty");
  if (!factory)
    throw std::invalid_argument("mode::Node::register_service('" + type_name +
                                "'): the factory is empty");
  std::lock_guard<std::mutex> guard{state_->mtx};
  auto [i, fresh] = state_->types.try_emplace(type_name);
  if (!fresh)
    throw std::invalid_argument("mode::Node::register_service: '" + type_name +
                                "' is registered already");
  i->second = {std::move(signature), std::move(factory)};
}

std::vector<std::string> Node::service_types() const {
  return state_->type_names();
}

RemoteNode Node::connect(const PeerAddress& peer) {
  require_plain_thread(*state_->sys);
  auto key = peer.to_string();
  {
    std::lock_guard<std::mutex> guard{state_->mtx};
    if (auto i = state_->peers.find(key); i != state_->peers.end())
      return i->second;
  }
  auto& sys = *state_->sys;
  const auto& name = state_->opts.name;
  // The middleman's connect, under the deadline (remote_actor() would wait for a peer
  // that accepts the connection but never speaks CAF's handshake).
  auto timeout = state_->opts.request_timeout;
  std::optional<caf::actor> proxy;
  caf::error failure;
  {
    caf::scoped_actor self{sys};
    self->request(connections_of(*state_), detail::remote_deadline(timeout),
                  caf::connect_atom::value, peer.host, peer.port)
        .receive(
            [&](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
              if (ptr)
                proxy = caf::actor_cast<caf::actor>(std::move(ptr));
              else
                failure = caf::sec::no_actor_published_at_port;
            },
            [&](caf::error& err) { failure = std::move(err); });
  }
  if (!proxy) {
    auto why = failure == caf::sec::request_timeout
                   ? fmt::format("no CAF handshake within {}", to_string(timeout))
                   : sys.render(failure);
    throw NodeError(fmt::format("node {}: cannot connect to peer {}: {}", name, key, why));
  }
  std::optional<std::pair<std::string, std::vector<std::string>>> answer;
  failure = call_remote<std::string, std::vector<std::string>>(
      *proxy, timeout,
      caf::make_message(detail::node_hello_atom::value, state_->actor, state_->opts.name),
      [&](std::string& peer_name, std::vector<std::string>& types) {
        answer.emplace(std::move(peer_name), std::move(types));
      });
  if (!answer) {
    if (failure == caf::sec::request_timeout)
      throw NodeError(
          fmt::format("node {}: {} did not answer a mode node's hello within {} (a "
                      "hung peer, or not a mode node)",
                      name, key, to_string(timeout)));
    if (failure == caf::sec::request_receiver_down)
      throw NodeLost(fmt::format("node {}: {} went away during the hello", name, key));
    throw NodeError(fmt::format("node {}: {} is not a mode node (its hello got {})", name, key,
                                sys.render(failure)));
  }
  RemoteNode remote{*proxy, std::move(answer->first), peer, std::move(answer->second),
                    state_->opts.request_timeout};
  RemoteNode result;
  {
    std::lock_guard<std::mutex> guard{state_->mtx};
    result = state_->peers.try_emplace(key, std::move(remote)).first->second;
    state_->nodes[result.actor().address()] = {result.actor(), result.name()};
  }
  // After the entry exists: the down message of a peer lost at once must find it.
  caf::anon_send(state_->actor, detail::node_watch_atom::value, *proxy);
  node_log()->info("Node {}: connected to peer {} at {}", name, result.name(), key);
  return result;
}

SignalRoute Node::route_signal(std::string name, signal_route route) {
  if (name.empty())
    throw std::invalid_argument("mode::Node: a cluster signal needs a name");
  {
    std::lock_guard<std::mutex> guard{state_->mtx};
    auto [i, fresh] = state_->signals.try_emplace(name, std::move(route));
    if (!fresh)
      throw std::invalid_argument(
          fmt::format("mode::Node {}: a cluster signal named '{}' exists on this node already",
                      state_->opts.name, name));
  }
  SignalRoute result;
  result.node_ = state_;
  result.name_ = std::move(name);
  return result;
}

SignalRoute::~SignalRoute() {
  if (auto st = node_.lock()) {
    std::lock_guard<std::mutex> guard{st->mtx};
    st->signals.erase(name_);
  }
}

std::size_t SignalRoute::broadcast(const std::string& sender, const caf::message& args) const {
  auto st = node_.lock();
  if (!st)
    return 0;
  std::vector<caf::actor> targets;
  {
    std::lock_guard<std::mutex> guard{st->mtx};
    targets.reserve(st->nodes.size());
    for (const auto& [addr, n] : st->nodes)
      targets.push_back(n.node);
  }
  // One message for all of them: CAF shares it (copy on write).
  auto msg = caf::make_message(detail::node_signal_atom::value, name_, sender, args);
  for (const auto& t : targets)
    caf::anon_send(t, msg);
  return targets.size();
}

std::vector<std::string> Node::peer_names() const {
  std::lock_guard<std::mutex> guard{state_->mtx};
  std::set<std::string> names;
  for (const auto& [addr, n] : state_->nodes)
    names.insert(n.name);
  return {names.begin(), names.end()};
}

std::vector<RemoteNode> Node::peers() const {
  std::lock_guard<std::mutex> guard{state_->mtx};
  std::vector<RemoteNode> result;
  for (const auto& [key, peer] : state_->peers)
    result.push_back(peer);
  return result;
}

// -- remote handles ---------------------------------------------------------------------------

RemoteNode::RemoteNode(caf::actor actor, std::string name, PeerAddress address,
                       std::vector<std::string> types, Seconds timeout)
    : actor_(std::move(actor)),
      name_(std::move(name)),
      address_(std::move(address)),
      types_(std::move(types)),
      timeout_(timeout) {}

RemoteService RemoteNode::spawn_message(const std::string& type, caf::message args) const {
  if (!actor_)
    throw NodeError("mode::RemoteNode::spawn: an empty RemoteNode names no node");
  std::optional<RemoteService> result;
  auto failure = call_remote<caf::actor, std::string>(
      actor_, timeout_, caf::make_message(detail::node_spawn_atom::value, type, std::move(args)),
      [&](caf::actor& hdl, std::string& label) {
        result = RemoteService{std::move(hdl), std::move(label), name_, timeout_};
      });
  if (result)
    return *result;
  if (failure == caf::sec::request_timeout)
    throw TimeoutError(fmt::format("mode: spawn of '{}' on node {} timed out after {}", type, name_,
                                   to_string(timeout_)));
  if (failure == caf::sec::request_receiver_down)
    throw NodeLost(fmt::format("mode: spawn of '{}' on node {}: the node was lost", type, name_));
  throw NodeError(
      fmt::format("mode: spawn of '{}' on node {}: {}", type, name_, detail::error_text(failure)));
}

RemoteService::RemoteService(caf::actor actor, std::string label, std::string node, Seconds timeout)
    : actor_(std::move(actor)),
      label_(std::move(label)),
      node_(std::move(node)),
      timeout_(timeout) {}

namespace {

template <class... Ts, class OnReply>
caf::error ask(const RemoteService& svc, Seconds timeout, caf::message msg, OnReply on_reply) {
  if (!svc.actor())
    throw ServiceNotRunning("mode::RemoteService: an empty handle names no service");
  return call_remote<Ts...>(svc.actor(), timeout, std::move(msg), std::move(on_reply));
}

[[noreturn]] void fail(const RemoteService& svc, std::string_view call, const caf::error& err,
                       Seconds timeout) {
  auto name = fmt::format("{} on node {}: {}", svc.label(), svc.node(), call);
  if (err == caf::sec::request_receiver_down)
    throw ServiceNotRunning(
        fmt::format("mode: {}: its actor is gone (stopped, crashed, or its node was lost)", name));
  detail::throw_request_error(err, name,
                              std::chrono::ceil<std::chrono::nanoseconds>(timeout.duration()));
}

}  // namespace

void RemoteService::start() const {
  auto err = ask(*this, timeout_, caf::make_message(detail::start_atom::value, true), [] {});
  if (err)
    fail(*this, "start()", err, timeout_);
}

void RemoteService::stop() const {
  auto err = ask(*this, timeout_, caf::make_message(detail::stop_atom::value), [] {});
  if (err && err != caf::sec::request_receiver_down)
    fail(*this, "stop()", err, timeout_);
}

void RemoteService::restart() const {
  auto err = ask(*this, timeout_, caf::make_message(detail::restart_atom::value), [] {});
  if (err)
    fail(*this, "restart()", err, timeout_);
}

ServiceState RemoteService::state() const {
  std::optional<ServiceState> result;
  auto err = ask<std::int32_t>(*this, timeout_, caf::make_message(detail::state_atom::value),
                               [&](std::int32_t st) { result = static_cast<ServiceState>(st); });
  if (result)
    return *result;
  fail(*this, "state()", err, timeout_);
}

bool RemoteService::wait_until_stopped(Seconds timeout) const {
  bool stopped = false;
  auto err =
      ask(*this, timeout, caf::make_message(detail::stopped_atom::value), [&] { stopped = true; });
  if (stopped || err == caf::sec::request_receiver_down)
    return true;
  if (err == caf::sec::request_timeout)
    return false;
  fail(*this, "wait_until_stopped()", err, timeout);
}

}  // namespace mode
