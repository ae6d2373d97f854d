// mode::Node: peer addresses and options, services created and driven on another node,
// bad input from users and peers, and node loss (SIGKILL, SIGSTOP) across processes on
// loopback. In-process cases run two actor systems, each a node; the multi-process ones
// run tests/node_fixture and kill what they spawned.
#include "mode/node.hpp"

#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "child_process.hpp"
#include "mode/errors.hpp"
#include "mode/service.hpp"
#include "mode/service_handle.hpp"
#include "node_support.hpp"
#include "test_support.hpp"

using namespace std::chrono_literals;
using mode::testing::listens_on_loopback_only;
using namespace mode::testing::nodes;

namespace {

class Fetcher : public mode::Service {
 public:
  explicit Fetcher(std::string url) : url_(std::move(url)) {}
  std::string label() const override { return "Fetcher(" + url_ + ")"; }

 private:
  std::string url_;
};

class Crasher : public mode::Service {
 public:
  mode::task<void> on_started() override { throw std::runtime_error("boom"); }
};

}  // namespace

TEST_CASE("node: peer addresses parse; bad ones are errors that quote them" *
          doctest::timeout(10)) {
  CHECK(mode::parse_peer("127.0.0.1:4711") == mode::PeerAddress{"127.0.0.1", 4711});
  CHECK(mode::parse_peer("localhost:1") == mode::PeerAddress{"localhost", 1});
  CHECK(mode::parse_peer("[::1]:65535") == mode::PeerAddress{"::1", 65535});
  CHECK(mode::parse_peer("[::1]:80").to_string() == "[::1]:80");
  CHECK(mode::parse_peer("h:80").to_string() == "h:80");
  CHECK(mode::parse_peers("").empty());
  CHECK(mode::parse_peers("a:1,b:2") == std::vector<mode::PeerAddress>{{"a", 1}, {"b", 2}});
  for (std::string bad : {"", "host", "host:", ":80", "host:0", "host:65536", "host:80x", "a b:1",
                          "::1:80", "[::1]80", "[::1:80", "host:-1"}) {
    CAPTURE(bad);
    auto what = what_of([&] { mode::parse_peer(bad); });
    CHECK(what.find("peer address '" + bad + "'") == 0);
  }
  CHECK_THROWS_WITH_AS(mode::parse_peers("a:1,"), "peer list: a trailing ',' names no peer",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(mode::parse_peers("a:1,,b:2"), doctest::Contains("peer address ''"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(mode::parse_peers("a:1,b"), doctest::Contains("peer address 'b'"),
                       std::invalid_argument);
}

TEST_CASE("node: options that cannot work are errors naming the option" * doctest::timeout(10)) {
  caf::actor_system_config cfg;
  auto opts = quick_options("x");
  opts.heartbeat_interval = mode::Seconds{0};
  CHECK_THROWS_WITH_AS(mode::configure_node(cfg, opts), doctest::Contains("heartbeat_interval"),
                       std::invalid_argument);
  opts = quick_options("x");
  opts.connection_timeout = mode::Seconds{0.1};
  CHECK_THROWS_WITH_AS(mode::configure_node(cfg, opts), doctest::Contains("connection_timeout"),
                       std::invalid_argument);
  opts = quick_options("x");
  opts.request_timeout = mode::Seconds{-1};
  CHECK_THROWS_WITH_AS(mode::configure_node(cfg, opts), doctest::Contains("request_timeout"),
                       std::invalid_argument);
  opts = quick_options("x");
  opts.host.clear();
  CHECK_THROWS_WITH_AS(mode::validate(opts),
                       "node option host (--node-host): empty; name an address",
                       std::invalid_argument);
  caf::actor_system_config plain;
  caf::actor_system sys{plain};
  CHECK_THROWS_WITH_AS(mode::Node(sys, quick_options("x")), doctest::Contains("configure_node"),
                       mode::NodeError);
}

namespace {

/// Calls the node's blocking connect() from its own start, on its actor's thread.
class BlockingCaller : public mode::Service {
 public:
  BlockingCaller(mode::Node& node, std::uint16_t port) : node_(node), port_(port) {}
  mode::task<void> on_start() override {
    try {
      node_.connect({"127.0.0.1", port_});
      refused = "no";
    } catch (const std::logic_error& e) {
      refused = e.what();
    }
    co_return;
  }
  std::string refused;  // read once the service stopped

 private:
  mode::Node& node_;
  std::uint16_t port_;
};

}  // namespace

TEST_CASE("node: its blocking calls are refused on an actor's thread" * doctest::timeout(60)) {
  local_node a{quick_options("a")};
  local_node b{quick_options("b")};
  auto caller = std::make_shared<BlockingCaller>(*a.node, b.node->port());
  mode::ServiceHandle h{*a.sys, caller};
  h.start();
  h.stop();
  CHECK(caller->refused.find("was made on an actor's thread, where it would block the "
                             "scheduler") != std::string::npos);
  CHECK(a.node->peers().empty());
}

TEST_CASE("node: listens on 127.0.0.1 only by default; a port in use is an error naming it" *
          doctest::timeout(60)) {
  local_node a{quick_options("a")};
  REQUIRE(a.node->port() != 0);
  CHECK(a.node->host() == "127.0.0.1");
  CHECK(listens_on_loopback_only(a.node->port()));
  auto taken = quick_options("b");
  taken.port = a.node->port();
  auto what = what_of([&] { local_node b{taken}; });
  CHECK(what.find(fmt::format("node b: cannot listen on 127.0.0.1:{}", a.node->port())) == 0);
}

TEST_CASE("node: a peer creates, starts, asks and stops a service of a registered type" *
          doctest::timeout(60)) {
  local_node a{quick_options("a")};
  local_node b{quick_options("b")};
  b.node->register_service<Fetcher, std::string>("Fetcher");
  b.node->register_service<Crasher>("Crasher");
  CHECK(b.node->service_types() == std::vector<std::string>{"Crasher", "Fetcher"});
  auto peer = a.node->connect({"127.0.0.1", b.node->port()});
  CHECK(peer.name() == "b");
  CHECK(peer.service_types() == std::vector<std::string>{"Crasher", "Fetcher"});
  CHECK(has_peer(*a.node, "b"));
  // A second connect to the same address is the same peer.
  CHECK(a.node->connect({"127.0.0.1", b.node->port()}).name() == "b");
  CHECK(a.node->peers().size() == 1);

  auto fetcher = peer.spawn("Fetcher", std::string{"https://example.com"});
  CHECK(fetcher.label() == "Fetcher(https://example.com)");
  CHECK(fetcher.node() == "b");
  CHECK(fetcher.state() == mode::ServiceState::init);
  fetcher.start();
  CHECK(fetcher.state() == mode::ServiceState::running);
  CHECK_FALSE(fetcher.wait_until_stopped(mode::Seconds{0.05}));
  fetcher.restart();
  CHECK(fetcher.state() == mode::ServiceState::running);
  fetcher.stop();
  CHECK(fetcher.wait_until_stopped(mode::Seconds{5}));
  // Stopped for good, its actor has gone: a clear error, not a guess.
  CHECK_THROWS_WITH_AS(fetcher.state(), doctest::Contains("its actor is gone"),
                       mode::ServiceNotRunning);
  fetcher.stop();  // stopping a stopped service is fine

  SUBCASE("a remote crash arrives with its chain") {
    auto crasher = peer.spawn("Crasher");
    CHECK_THROWS_WITH_AS(crasher.start(), doctest::Contains("std::runtime_error: boom"),
                         mode::ServiceCrashed);
  }
  SUBCASE("unknown type names and arguments that do not fit are errors naming them") {
    CHECK_THROWS_WITH_AS(peer.spawn("Fetch"),
                         doctest::Contains("no service type 'Fetch' is registered (known: "
                                           "Crasher, Fetcher)"),
                         mode::NodeError);
    CHECK_THROWS_WITH_AS(peer.spawn("Fetcher", 42), doctest::Contains("cannot make a 'Fetcher'"),
                         mode::NodeError);
    CHECK_THROWS_WITH_AS(peer.spawn("Fetcher"), doctest::Contains("do not fit (std::"),
                         mode::NodeError);
    // The node goes on.
    CHECK(peer.spawn("Fetcher", std::string{"x"}).label() == "Fetcher(x)");
  }
  SUBCASE("a message of the wrong type is answered with an error; the node goes on") {
    caf::scoped_actor self{*a.sys};
    caf::error failure;
    self->request(peer.actor(), std::chrono::seconds{5}, 42, std::string{"junk"})
        .receive([](const caf::message&) {}, [&](caf::error& err) { failure = std::move(err); });
    CHECK(failure == caf::sec::unexpected_message);
    CHECK(peer.spawn("Fetcher", std::string{"y"}).label() == "Fetcher(y)");
  }
  SUBCASE("register_service refuses an empty or a taken name") {
    CHECK_THROWS_AS(b.node->register_service<Crasher>(""), std::invalid_argument);
    CHECK_THROWS_WITH_AS(b.node->register_service<Crasher>("Fetcher"),
                         doctest::Contains("'Fetcher' is registered already"),
                         std::invalid_argument);
  }
}

TEST_CASE("node: a peer that does not answer, or is not a mode node, is an error in time" *
          doctest::timeout(60)) {
  auto opts = quick_options("a");
  opts.request_timeout = mode::Seconds{1.0};
  local_node a{opts};
  SUBCASE("nothing listens there") {
    // A port that was free a moment ago: bind, read the port, close.
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    auto port = ntohs(addr.sin_port);
    ::close(fd);
    auto what = what_of([&] { a.node->connect({"127.0.0.1", port}); });
    CHECK(what.find(fmt::format("node a: cannot connect to peer 127.0.0.1:{}", port)) == 0);
    CHECK_THROWS_AS(a.node->connect({"127.0.0.1", port}), mode::NodeError);
  }
  SUBCASE("a listener that accepts and never speaks") {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd, 4) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    auto port = ntohs(addr.sin_port);
    auto t0 = std::chrono::steady_clock::now();
    // CAF's own connection timeout (1 s here) or the request deadline, whichever first.
    CHECK_THROWS_WITH_AS(
        a.node->connect({"127.0.0.1", port}),
        doctest::Contains(fmt::format("cannot connect to peer 127.0.0.1:{}", port).c_str()),
        mode::NodeError);
    CHECK(std::chrono::steady_clock::now() - t0 < 20s);
    ::close(fd);
  }
  SUBCASE("a CAF actor that is not a node") {
    // (One argument: CAF 0.17.6's factory for a function actor without any binds a null
    // tuple pointer, which UBSan reports.)
    auto other = a.sys->spawn(
        [](caf::event_based_actor*, int offset) -> caf::behavior {
          return {[offset](int x) {
            return x + offset;
          }};
        },
        0);
    auto port = a.sys->middleman().publish(other, 0, "127.0.0.1");
    REQUIRE(port);
    local_node b{quick_options("b")};
    CHECK_THROWS_WITH_AS(b.node->connect({"127.0.0.1", *port}),
                         doctest::Contains("is not a mode node"), mode::NodeError);
    a.sys->middleman().unpublish(other, *port);
    caf::anon_send_exit(other, caf::exit_reason::user_shutdown);
  }
}

TEST_CASE(
    "nodes across processes: peers from the command line; SIGKILL seen at once, "
    "SIGSTOP after the connection timeout" *
    doctest::timeout(120)) {
  mode::testing::child_process b{MODE_NODE_FIXTURE, {"b", "", "0.1", "1.0"}};
  auto b_port = fixture_port(b, "b");
  CHECK(listens_on_loopback_only(b_port));
  mode::testing::child_process c{MODE_NODE_FIXTURE,
                                 {"c", fmt::format("127.0.0.1:{}", b_port), "0.1", "1.0"}};
  auto c_port = fixture_port(c, "c");
  CHECK(c.wait_for("peer b\n", 30s, true));

  // For SIGKILL, a connection timeout far past the bound below: the loss must be seen
  // from the closed connection, not by timing out.
  bool kill = false;
  SUBCASE("SIGKILL") {
    kill = true;
  }
  SUBCASE("SIGSTOP") {}
  auto options = quick_options("a");
  if (kill)
    options.connection_timeout = mode::Seconds{60};
  local_node a{options};
  auto to_b = a.node->connect({"127.0.0.1", b_port});
  auto to_c = a.node->connect({"127.0.0.1", c_port});
  CHECK(to_b.name() == "b");
  CHECK(to_c.name() == "c");
  auto fetcher = to_b.spawn("Fetcher", std::string{"u"});
  fetcher.start();
  CHECK(fetcher.state() == mode::ServiceState::running);

  if (kill) {
    b.signal(SIGKILL);
    auto t0 = std::chrono::steady_clock::now();
    CHECK(fetcher.wait_until_stopped(mode::Seconds{10}));
    CHECK(eventually([&] { return !has_peer(*a.node, "b"); }, 10s));
    auto took = std::chrono::steady_clock::now() - t0;
    CHECK(took < 10s);  // well before the 60 s timeout (at once on a quiet machine)
    CHECK_THROWS_AS(fetcher.state(), mode::ServiceNotRunning);
    CHECK_THROWS_AS(to_b.spawn("Fetcher", std::string{"v"}), mode::NodeError);
    // The other peer is not affected.
    CHECK(to_c.spawn("Fetcher", std::string{"w"}).label() == "Fetcher(w)");
  } else {
    b.signal(SIGSTOP);
    auto t0 = std::chrono::steady_clock::now();
    CHECK(eventually([&] { return !has_peer(*a.node, "b"); }, 20s));
    auto took = std::chrono::steady_clock::now() - t0;
    CHECK(took >= 500ms);  // not before a heartbeat could have been missed
    CHECK(took < 10s);     // the timeout is 1 s; generous for a loaded machine
    CHECK(fetcher.wait_until_stopped(mode::Seconds{10}));
    b.signal(SIGCONT);
  }
  c.signal(SIGTERM);
  auto status = c.wait_exit(30s);
  INFO("c's stderr: ", c.err());
  CHECK(status == 0);
}
