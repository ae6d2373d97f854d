// The messages node actors understand (mode/node.hpp): what a peer may send a node.
// Private to the library; both ends are mode-cpp.
#pragma once

#include <caf/atom.hpp>

namespace mode::detail {

/// (hello) -> (node name, registered type names)
/// (hello, caller's node actor, caller's name) -> the same; the node counts the caller as
/// a peer from then on (cluster-wide signals reach it) until it goes down.
using node_hello_atom = caf::atom_constant<caf::atom("m_nhello")>;
/// (signal, signal name, sender key, arguments as a message): a cluster-wide signal sent
/// on a peer; no reply (at most once, as every signal send).
using node_signal_atom = caf::atom_constant<caf::atom("m_nsignal")>;
/// (spawn, type name, constructor arguments as a message) -> (service actor, label)
/// (spawn, type name, arguments, owner actor) -> the same; the node stops the service
/// when the owner goes down (its node lost, or it ended without stopping the service).
using node_spawn_atom = caf::atom_constant<caf::atom("m_nspawn")>;
/// (reap, service actor id): a node ends a service whose owner went down if its stop did
/// not end it by now (sent to itself, delayed by the request timeout).
using node_reap_atom = caf::atom_constant<caf::atom("m_nreap")>;
/// (watch, peer node actor): a node monitors a peer it connected to (sent to itself).
using node_watch_atom = caf::atom_constant<caf::atom("m_nwatch")>;

}  // namespace mode::detail
