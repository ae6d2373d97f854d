// What the node tests share: a node in this process on its own actor system, options
// with quick heartbeats, and waiting for node fixture processes (tests/node_fixture).
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "child_process.hpp"
#include "mode/node.hpp"

namespace mode::testing::nodes {

using namespace std::chrono_literals;

inline mode::NodeOptions quick_options(std::string name) {
  mode::NodeOptions opts;
  opts.name = std::move(name);
  opts.heartbeat_interval = mode::Seconds{0.1};
  opts.connection_timeout = mode::Seconds{1.0};
  opts.request_timeout = mode::Seconds{5.0};
  return opts;
}

/// One node in this process: its own configured actor system.
struct local_node {
  explicit local_node(mode::NodeOptions opts) : options(std::move(opts)) {
    mode::configure_node(cfg, options);
    sys.emplace(cfg);
    node.emplace(*sys, options);
  }
  ~local_node() {
    node.reset();
    sys->middleman().stop();  // connections first, so that no proxy outlives the system
  }
  mode::NodeOptions options;
  caf::actor_system_config cfg;
  std::optional<caf::actor_system> sys;
  std::optional<mode::Node> node;
};

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

inline bool has_peer(const mode::Node& node, const std::string& name) {
  for (const auto& p : node.peers())
    if (p.name() == name)
      return true;
  return false;
}

/// The port a node fixture printed (`node NAME port N`), waiting for it.
inline std::uint16_t fixture_port(mode::testing::child_process& child, const std::string& name) {
  auto prefix = "node " + name + " port ";
  REQUIRE(child.wait_for(prefix, 30s, true));
  REQUIRE(child.wait_for("\n", 30s, true));
  auto at = child.out().find(prefix) + prefix.size();
  return static_cast<std::uint16_t>(std::stoi(child.out().substr(at)));
}

inline std::string what_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(nothing thrown)";
}

}  // namespace mode::testing::nodes
