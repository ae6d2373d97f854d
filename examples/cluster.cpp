// cluster: three nodes on one machine. Node a runs a supervisor whose two fetchers run on
// nodes b and c; kill a node and the supervisor restarts its fetcher on the other one.
//
//   build/examples/cluster fetchers --node-name=b --node-port=4702 --loglevel=info
//   build/examples/cluster fetchers --node-name=c --node-port=4703 --loglevel=info
//   build/examples/cluster supervisor --node-name=a --node-port=4701 --loglevel=info
//       --peers=127.0.0.1:4702,127.0.0.1:4703            (one line)
//
// Node a logs "Fetcher running on node b" (and c). `kill -9` node b, and within about a
// second node a logs "Restarting dead Fetcher@b! ... node b was lost" and "Fetcher running
// on node c". examples/cluster.sh does all of this by itself (and is a test). Every node
// listens on 127.0.0.1 only; --node-host names another address.
#include <mode/mode.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

/// Fetches its url every second (here: counts and logs).
class Fetcher : public mode::Service {
 public:
  explicit Fetcher(std::string url) : url_(std::move(url)) {
    add_task("fetch", [this]() -> mode::task<void> {
      while (!should_stop()) {
        log().info("fetched {} ({} times)", url_, ++fetches_);
        co_await sleep(1.0);
      }
    });
  }
  std::string label() const override { return "Fetcher(" + url_ + ")"; }

 private:
  std::string url_;
  int fetches_ = 0;
};

/// Nodes b and c: no services of their own; they build Fetchers for their peers.
class FetcherNode : public mode::Worker {
 public:
  using Worker::Worker;
  void on_node_started(mode::Node& node) override {
    node.register_service<Fetcher, std::string>("Fetcher");
  }
};

/// Node a: a supervisor holding one fetcher per url, each on any node of its peers. The
/// first fetcher prefers the first peer, the second the second, so they spread out.
class SupervisorNode : public mode::Worker {
 public:
  explicit SupervisorNode(std::shared_ptr<mode::OneForOneSupervisor> sup)
      : Worker({sup}), sup_(std::move(sup)) {}
  void on_node_started(mode::Node& node) override {
    auto peers = node.peers();
    if (peers.empty())
      throw std::invalid_argument("the supervisor node needs --peers=host:port,...");
    for (const std::string url : {"https://example.com/a", "https://example.com/b"}) {
      sup_->add(mode::RemoteChild::make(peers, "Fetcher", url));
      std::rotate(peers.begin(), peers.begin() + 1, peers.end());
    }
  }

 private:
  std::shared_ptr<mode::OneForOneSupervisor> sup_;
};

std::shared_ptr<mode::OneForOneSupervisor> make_supervisor() {
  mode::SupervisorOptions limits;
  limits.max_restarts = 10;
  limits.over = mode::Seconds{60};
  return std::make_shared<mode::OneForOneSupervisor>(limits);
}

}  // namespace

int main(int argc, char** argv) {
  std::string role = argc > 1 ? argv[1] : "";
  if (role != "fetchers" && role != "supervisor") {
    std::fprintf(stderr,
                 "usage: %s fetchers|supervisor [worker options: --node-port, --peers, ...]\n",
                 argc > 0 ? argv[0] : "cluster");
    return mode::exit_status::usage;
  }
  // The role is ours; the rest of the command line is the worker's.
  argv[1] = argv[0];
  mode::WorkerOptions options;
  options.node = mode::NodeOptions{};  // a node even without --node-port (on a free port)
  if (role == "fetchers") {
    FetcherNode worker{{}, options};
    return worker.execute_from_commandline(argc - 1, argv + 1);
  }
  SupervisorNode worker{make_supervisor()};
  worker.options().node = options.node;
  return worker.execute_from_commandline(argc - 1, argv + 1);
}
