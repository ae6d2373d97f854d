// How a process joins a cluster as a node: where it listens, which peers it connects to,
// how hung peers are detected. Plain values without CAF, so that a Worker's options can
// hold them (mode/worker.hpp); mode/node.hpp builds the node.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mode/times.hpp"

namespace mode {

/// Where a peer listens: `host:port` (an IPv6 host in brackets: `[::1]:4711`).
struct PeerAddress {
  std::string host;
  std::uint16_t port = 0;

  /// `host:port`, as parse_peer() reads it.
  std::string to_string() const;

  friend bool operator==(const PeerAddress&, const PeerAddress&) = default;
};

/// Parses `host:port`; std::invalid_argument quoting `text` if it is not one (no port,
/// a port that is not a number in 1-65535, an empty host, stray characters).
PeerAddress parse_peer(std::string_view text);

/// Parses a comma-separated list of peers (`a:1,b:2`; empty: none); std::invalid_argument
/// naming the entry that does not parse.
std::vector<PeerAddress> parse_peers(std::string_view text);

/// How a node runs. Heartbeats and the connection timeout are CAF's middleman options,
/// which configure_node() sets: they apply to every connection of the actor system. The
/// Worker's command-line option for each field is named beside it.
struct NodeOptions {
  /// Shown in logs, in the console and by peers. Default: `node-<pid>`. `--node-name`.
  std::string name;
  /// The address to listen on. Default: 127.0.0.1 (only this machine can connect); name
  /// another address (e.g. 0.0.0.0) to let other machines in. `--node-host`.
  std::string host = "127.0.0.1";
  /// The port to listen on. Default: 0, any free port (Node::port() tells which).
  /// `--node-port`.
  std::uint16_t port = 0;
  /// Peers to connect to when the node starts. Default: none. `--peers`.
  std::vector<PeerAddress> peers;
  /// How often the middleman sends a heartbeat on each connection. Default: 0.5 s.
  /// `--heartbeat`.
  Seconds heartbeat_interval{0.5};
  /// A connection that received nothing (not even a heartbeat) for this long is closed,
  /// and its node is lost: a hung peer is detected, not only a dead one. Default: 2 s.
  /// `--connection-timeout`.
  Seconds connection_timeout{2.0};
  /// The deadline of each remote call (connect, spawn, start, stop, state). Default: 5 s.
  /// `--request-timeout`.
  Seconds request_timeout{5.0};

  // -- TLS (CAF's openssl module) ----------------------------------------------------------
  // All three files, or none. With them, every connection of the actor system, both ways,
  // is TLS, and each side checks that the other's certificate comes from a CA of
  // tls_ca_file: a node without a trusted certificate cannot connect, nor be connected to.
  // The files are read again for each connection: keep them in place.

  /// This node's certificate chain (PEM). Default: none (plain TCP). `--tls-certificate`.
  std::string tls_certificate;
  /// The certificate's private key (PEM). Default: none. `--tls-key`.
  std::string tls_key;
  /// The key's passphrase, if it is encrypted. Default: none. Set in code only (a
  /// command line shows in `ps`).
  std::string tls_key_passphrase;
  /// The CA certificates (PEM) that peers' certificates must chain to. Default: none.
  /// `--tls-ca-file`.
  std::string tls_ca_file;
  /// Listen, or connect to peers, beyond loopback over plain TCP. Default: false: a node
  /// whose host or a peer is not a loopback address needs TLS. `--node-plain`.
  bool plain_beyond_loopback = false;

  /// True if the TLS files are given.
  [[nodiscard]] bool uses_tls() const noexcept { return !tls_certificate.empty(); }
};

/// True for an address that only this machine reaches: 127.0.0.0/8, ::1, localhost.
[[nodiscard]] bool is_loopback(std::string_view host) noexcept;

/// Checks `opts`: a host, a positive heartbeat interval, a connection timeout longer than
/// it, a positive request timeout; the TLS files all or none, each readable, the key
/// matching the certificate; plain TCP beyond loopback only with plain_beyond_loopback.
/// std::invalid_argument naming the field (and its command-line option) and quoting the
/// value.
void validate(const NodeOptions& opts);

}  // namespace mode
