// A node process for tests/node_test.cpp: a mode::Node with two registered service types,
// run until SIGTERM or SIGINT.
//
//   mode_node_fixture NAME [PEERS] [HEARTBEAT_S CONNECTION_TIMEOUT_S]
//
// Prints `node NAME port N` on stdout once it listens (on 127.0.0.1, any free port), and
// `peer NAME` for every peer of PEERS (host:port,...) it connected to.
//   Fetcher(std::string url)     runs a task that sleeps; its label names the url
//   Crasher(std::string reason)  throws std::runtime_error(reason) from on_started
// and joins the cluster signal "chat" (ClusterSignal<std::string>): a send from the sender
// "wanted" prints `heard wanted TEXT` and is echoed to every node as NAME: "echo TEXT".
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>

#include <caf/all.hpp>

#include "mode/cluster_signal.hpp"
#include "mode/logging.hpp"
#include "mode/node.hpp"
#include "mode/service.hpp"

namespace {

class Fetcher : public mode::Service {
 public:
  explicit Fetcher(std::string url) : url_(std::move(url)) {
    add_task("fetch", [this] { return fetch(); });
  }
  std::string label() const override { return "Fetcher(" + url_ + ")"; }

 private:
  mode::task<void> fetch() {
    while (!should_stop())
      co_await sleep(3600.0);
  }
  std::string url_;
};

class Crasher : public mode::Service {
 public:
  explicit Crasher(std::string reason) : reason_(std::move(reason)) {}
  mode::task<void> on_started() override { throw std::runtime_error(reason_); }

 private:
  std::string reason_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s NAME [PEERS] [HEARTBEAT_S CONNECTION_TIMEOUT_S]\n", argv[0]);
    return 64;
  }
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);  // before CAF's threads exist
  mode::LoggingOptions logging;
  logging.log_level = "info";
  mode::setup_logging(logging);
  mode::NodeOptions opts;
  opts.name = argv[1];
  try {
    if (argc > 2)
      opts.peers = mode::parse_peers(argv[2]);
    if (argc > 4) {
      opts.heartbeat_interval = mode::Seconds{std::stod(argv[3])};
      opts.connection_timeout = mode::Seconds{std::stod(argv[4])};
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 64;
  }
  caf::actor_system_config cfg;
  mode::configure_node(cfg, opts);
  caf::actor_system sys{cfg};
  try {
    mode::Node node{sys, opts};
    node.register_service<Fetcher, std::string>("Fetcher");
    node.register_service<Crasher, std::string>("Crasher");
    mode::ClusterSignal<std::string> chat{node, "chat"};
    chat.connect(
        [&chat, name = node.name()](const std::string& sender, const std::string& text) {
          std::printf("heard %s %s\n", sender.c_str(), text.c_str());
          std::fflush(stdout);
          chat.send_nowait(name, "echo " + text);
        },
        {.sender = "wanted"});
    std::printf("node %s port %u\n", node.name().c_str(), node.port());
    for (const auto& peer : node.peers())
      std::printf("peer %s\n", peer.name().c_str());
    std::fflush(stdout);
    int sig = 0;
    sigwait(&stop_signals, &sig);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "node fixture: %s\n", e.what());
    return 1;
  }
  return 0;
}
