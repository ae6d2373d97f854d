// The messages node actors understand (mode/node.hpp): what a peer may send a node.
// Private to the library; both ends are mode-cpp.
#pragma once

#include <caf/atom.hpp>

namespace mode::detail {

/// (hello) -> (node name, registered type names)
using node_hello_atom = caf::atom_constant<caf::atom("m_nhello")>;
/// (spawn, type name, constructor arguments as a message) -> (service actor, label)
using node_spawn_atom = caf::atom_constant<caf::atom("m_nspawn")>;
/// (watch, peer node actor): a node monitors a peer it connected to (sent to itself).
using node_watch_atom = caf::atom_constant<caf::atom("m_nwatch")>;

}  // namespace mode::detail
