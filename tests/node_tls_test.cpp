// Nodes over TLS (CAF's openssl module): two nodes whose certificates chain to a trusted CA
// connect and drive a remote service; a plain node, or one whose certificate another CA
// signed, cannot connect in either direction; bad TLS files and plain TCP beyond loopback are
// errors naming the option. Certificates are made for the test with the openssl tool
// (Debian's openssl package), self-signed: each is its own CA.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "mode/node.hpp"
#include "mode/service.hpp"
#include "node_support.hpp"
#include "test_support.hpp"

using namespace std::chrono_literals;
using namespace mode::testing::nodes;
using mode::testing::listens_on_loopback_only;

namespace {

namespace fs = std::filesystem;

/// A temporary directory with two self-signed certificates (`one`, `two`) and their keys.
struct certificates {
  fs::path dir;
  certificates() {
    auto pattern = (fs::temp_directory_path() / "mode-tls-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    dir = pattern;
    for (const char* name : {"one", "two"}) {
      auto cmd = fmt::format(
          "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
          "-subj /CN=mode-test-{0} -keyout {1}/{0}.key -out {1}/{0}.pem >{1}/{0}.log 2>&1",
          name, dir.string());
      REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, "openssl failed: ", cmd);
    }
  }
  ~certificates() { fs::remove_all(dir); }
  std::string pem(const char* name) const { return (dir / (std::string{name} + ".pem")).string(); }
  std::string key(const char* name) const { return (dir / (std::string{name} + ".key")).string(); }

  /// Options for node `node_name` with certificate `cert`, trusting `ca`.
  mode::NodeOptions tls(std::string node_name, const char* cert, const char* ca) const {
    auto opts = quick_options(std::move(node_name));
    opts.tls_certificate = pem(cert);
    opts.tls_key = key(cert);
    opts.tls_ca_file = pem(ca);
    return opts;
  }
};

class Echo : public mode::Service {
 public:
  std::string label() const override { return "Echo"; }
};

}  // namespace

TEST_CASE("tls: nodes with trusted certificates connect and drive a remote service" *
          doctest::timeout(60)) {
  certificates certs;
  local_node a{certs.tls("a", "one", "one")};
  local_node b{certs.tls("b", "one", "one")};
  b.node->register_service<Echo>("Echo");
  CHECK(listens_on_loopback_only(b.node->port()));
  auto peer = a.node->connect({"127.0.0.1", b.node->port()});
  CHECK(peer.name() == "b");
  auto echo = peer.spawn("Echo");
  echo.start();
  CHECK(echo.state() == mode::ServiceState::running);
  echo.stop();
  CHECK(echo.wait_until_stopped(mode::Seconds{5}));
}

TEST_CASE("tls: a plain node, or one another CA signed, cannot connect either way" *
          doctest::timeout(120)) {
  certificates certs;
  auto quick_fail = [](mode::NodeOptions opts) {
    opts.request_timeout = mode::Seconds{2};  // the deadline ends a handshake that fails
    return opts;
  };
  local_node tls_node{certs.tls("t", "one", "one")};
  local_node plain{quick_fail(quick_options("p"))};
  local_node stranger{quick_fail(certs.tls("s", "two", "two"))};
  local_node trusting{quick_fail(certs.tls("u", "one", "one"))};
  CHECK_THROWS_WITH_AS(plain.node->connect({"127.0.0.1", tls_node.node->port()}),
                       doctest::Contains("node p: cannot connect to peer 127.0.0.1:"),
                       mode::NodeError);
  CHECK_THROWS_WITH_AS(trusting.node->connect({"127.0.0.1", plain.node->port()}),
                       doctest::Contains("node u: cannot connect to peer 127.0.0.1:"),
                       mode::NodeError);
  CHECK_THROWS_WITH_AS(stranger.node->connect({"127.0.0.1", tls_node.node->port()}),
                       doctest::Contains("node s: cannot connect to peer 127.0.0.1:"),
                       mode::NodeError);
  // After all that, the TLS node still takes a peer it trusts.
  CHECK(trusting.node->connect({"127.0.0.1", tls_node.node->port()}).name() == "t");
}

TEST_CASE("tls: files that are missing, bad or do not match are errors naming the option" *
          doctest::timeout(60)) {
  certificates certs;
  auto opts = certs.tls("x", "one", "one");
  CHECK_NOTHROW(mode::validate(opts));
  auto fails = [](mode::NodeOptions o) {
    try {
      mode::validate(o);
    } catch (const std::invalid_argument& e) {
      return std::string{e.what()};
    }
    return std::string{"no error"};
  };
  auto o = opts;
  o.tls_key.clear();
  CHECK(fails(o).find("node option tls_key (--tls-key): missing; TLS needs") == 0);
  o = opts;
  o.tls_ca_file.clear();
  CHECK(fails(o).find("node option tls_ca_file (--tls-ca-file): missing") == 0);
  o = opts;
  o.tls_certificate = (certs.dir / "nope.pem").string();
  CHECK(fails(o).find("node option tls_certificate (--tls-certificate): cannot load a PEM "
                      "certificate chain from '" +
                      o.tls_certificate + "'") == 0);
  o = opts;
  o.tls_key = certs.pem("one");  // a certificate is no key
  CHECK(fails(o).find("node option tls_key (--tls-key): cannot load a PEM private key") == 0);
  o = opts;
  o.tls_key = certs.key("two");  // a key, but not this certificate's
  CHECK(fails(o).find("node option tls_key (--tls-key): cannot match the certificate") == 0);
  o = opts;
  o.tls_ca_file = certs.key("one");
  CHECK(fails(o).find("node option tls_ca_file (--tls-ca-file): cannot load CA certificates") == 0);
  o = quick_options("x");
  o.tls_key_passphrase = "secret";
  CHECK(fails(o).find("node option tls_key_passphrase: set, but no tls_key") == 0);
}

TEST_CASE("plain TCP beyond loopback needs the user's word" * doctest::timeout(60)) {
  auto opts = quick_options("x");
  opts.host = "0.0.0.0";
  CHECK_THROWS_WITH_AS(mode::validate(opts),
                       doctest::Contains("node option host (--node-host): '0.0.0.0' is beyond "
                                         "loopback, where plain TCP can be read and forged"),
                       std::invalid_argument);
  opts.plain_beyond_loopback = true;
  CHECK_NOTHROW(mode::validate(opts));
  opts = quick_options("x");
  opts.peers = mode::parse_peers("127.0.0.1:4000,10.1.2.3:4000");
  CHECK_THROWS_WITH_AS(mode::validate(opts),
                       doctest::Contains("node option peers (--peers): '10.1.2.3:4000' is beyond "
                                         "loopback"),
                       std::invalid_argument);
  for (const char* host : {"127.0.0.1", "127.1.2.3", "::1", "localhost"})
    CHECK(mode::is_loopback(host));
  for (const char* host :
       {"0.0.0.0", "10.0.0.1", "::", "example.com", "128.0.0.1", "127.example.com"})
    CHECK_FALSE(mode::is_loopback(host));
}
