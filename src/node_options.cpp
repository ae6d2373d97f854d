// Peer addresses and node options: parsing and checks, without CAF.
#include "mode/node_options.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>

#include <fmt/format.h>

#include "node_tls.hpp"

namespace mode {

std::string PeerAddress::to_string() const {
  if (host.find(':') != std::string::npos)
    return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

PeerAddress parse_peer(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return std::invalid_argument(fmt::format("peer address '{}': {}", text, why));
  };
  PeerAddress result;
  std::string_view port_text;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos)
      throw bad("an IPv6 host needs a closing ']'");
    result.host = std::string{text.substr(1, close - 1)};
    if (close + 1 >= text.size() || text[close + 1] != ':')
      throw bad("expected host:port ([host]:port for IPv6)");
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos)
      throw bad("expected host:port");
    result.host = std::string{text.substr(0, colon)};
    if (result.host.find(':') != std::string::npos)
      throw bad("write an IPv6 host in brackets: [host]:port");
    port_text = text.substr(colon + 1);
  }
  if (result.host.empty())
    throw bad("the host is empty");
  if (std::any_of(result.host.begin(), result.host.end(),
                  [](char c) { return c == ' ' || c == ',' || c == '/' || c < 0x21; }))
    throw bad("the host has a character no host name has");
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc{} || end != port_text.data() + port_text.size())
    throw bad(fmt::format("the port '{}' is not a number", port_text));
  if (port == 0 || port > 65535)
    throw bad(fmt::format("the port {} is not in 1-65535", port));
  result.port = static_cast<std::uint16_t>(port);
  return result;
}

std::vector<PeerAddress> parse_peers(std::string_view text) {
  std::vector<PeerAddress> result;
  while (!text.empty()) {
    auto comma = text.find(',');
    auto entry = text.substr(0, comma);
    result.push_back(parse_peer(entry));
    if (comma == std::string_view::npos)
      break;
    text.remove_prefix(comma + 1);
    if (text.empty())
      throw std::invalid_argument("peer list: a trailing ',' names no peer");
  }
  return result;
}

bool is_loopback(std::string_view host) noexcept {
  if (host == "localhost")
    return true;
  // Addresses only: a name such as "127.example.com" is not loopback.
  std::string text{host};
  in_addr v4{};
  if (::inet_pton(AF_INET, text.c_str(), &v4) == 1)
    return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return ::inet_pton(AF_INET6, text.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

namespace {

void validate_tls(const NodeOptions& opts) {
  struct file {
    const std::string& path;
    const char* field;
    const char* option;
  };
  const file files[] = {{opts.tls_certificate, "tls_certificate", "--tls-certificate"},
                        {opts.tls_key, "tls_key", "--tls-key"},
                        {opts.tls_ca_file, "tls_ca_file", "--tls-ca-file"}};
  bool any = false;
  for (const auto& f : files)
    any = any || !f.path.empty();
  if (!any) {
    if (!opts.tls_key_passphrase.empty())
      throw std::invalid_argument(
          "node option tls_key_passphrase: set, but no tls_key (--tls-key) to open with it");
    return;
  }
  for (const auto& f : files)
    if (f.path.empty())
      throw std::invalid_argument(
          fmt::format("node option {} ({}): missing; TLS needs --tls-certificate, --tls-key "
                      "and --tls-ca-file together",
                      f.field, f.option));
  detail::check_tls_files(opts);
}

}  // namespace

void validate(const NodeOptions& opts) {
  if (opts.host.empty())
    throw std::invalid_argument("node option host (--node-host): empty; name an address");
  if (!(opts.heartbeat_interval.count() > 0))
    throw std::invalid_argument(
        fmt::format("node option heartbeat_interval (--heartbeat): {} is not positive",
                    to_string(opts.heartbeat_interval)));
  if (!(opts.connection_timeout.count() > opts.heartbeat_interval.count()))
    throw std::invalid_argument(fmt::format(
        "node option connection_timeout (--connection-timeout): {} is not longer than the "
        "heartbeat interval ({}): every connection would time out",
        to_string(opts.connection_timeout), to_string(opts.heartbeat_interval)));
  if (!(opts.request_timeout.count() > 0))
    throw std::invalid_argument(
        fmt::format("node option request_timeout (--request-timeout): {} is not positive",
                    to_string(opts.request_timeout)));
  validate_tls(opts);
  if (opts.uses_tls() || opts.plain_beyond_loopback)
    return;
  auto beyond = [](std::string_view what, std::string_view where) {
    return std::invalid_argument(fmt::format(
        "node option {}: '{}' is beyond loopback, where plain TCP can be read and forged: give "
        "--tls-certificate, --tls-key and --tls-ca-file, or --node-plain "
        "(plain_beyond_loopback) on a network you trust",
        what, where));
  };
  if (!is_loopback(opts.host))
    throw beyond("host (--node-host)", opts.host);
  for (const auto& peer : opts.peers)
    if (!is_loopback(peer.host))
      throw beyond("peers (--peers)", peer.to_string());
}

}  // namespace mode
