// mode::WebServer: the status page, /api/tree, /metrics and /healthz over real HTTP on
// loopback, with cpp-httplib's client.
#include "mode/web_server.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "mode/sync_signal.hpp"
#include "test_support.hpp"

using mode::testing::listens_on_loopback_only;

namespace {

mode::ServiceNode tree() {
  mode::ServiceNode root;
  root.label = "Worker";
  root.state = "running";
  root.answered = true;
  mode::ServiceNode child = root;
  child.label = "Fetcher";
  child.held = true;
  child.crashes = 2;
  root.children.push_back(child);
  return root;
}

}  // namespace

TEST_CASE("web: status page, tree JSON, metrics and health over HTTP, on loopback only" *
          doctest::timeout(60)) {
  std::atomic<int> snapshots{0};
  mode::WebServer web{"127.0.0.1", 0, [&] {
                        ++snapshots;
                        return tree();
                      }};
  REQUIRE(web.port() != 0);
  CHECK(web.url() == fmt::format("http://127.0.0.1:{}/", web.port()));
  CHECK(listens_on_loopback_only(web.port()));
  httplib::Client client{"127.0.0.1", web.port()};
  client.set_read_timeout(10, 0);

  auto page = client.Get("/");
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(page->get_header_value("Content-Type") == "text/html; charset=utf-8");
  CHECK(page->body.find("<svg id=\"tree\"") != std::string::npos);
  CHECK(page->body.find("fetch(\"/api/tree\"") != std::string::npos);
  CHECK(snapshots == 0);  // the page itself needs no snapshot

  auto api = client.Get("/api/tree");
  REQUIRE(api);
  CHECK(api->status == 200);
  auto json = nlohmann::json::parse(api->body);
  CHECK(json["label"] == "Worker");
  CHECK(json["children"][0]["label"] == "Fetcher");
  CHECK(json["children"][0]["crashes"] == 2);

  mode::SyncSignal<int> on_fetch{"on_fetch", "web.Fetcher"};
  on_fetch.send(1);
  on_fetch.send(2);
  auto metrics = client.Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->status == 200);
  CHECK(metrics->get_header_value("Content-Type").starts_with("text/plain; version=0.0.4"));
  CHECK(metrics->body.find("mode_service_crashes_total{service=\"Fetcher\",path=\"0.0\"} 2\n") !=
        std::string::npos);
  // The process's signals, from the census.
  CHECK(metrics->body.find(
            "mode_signal_sends_total{owner=\"web.Fetcher\",signal=\"on_fetch\"} 2\n") !=
        std::string::npos);

  auto health = client.Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  CHECK(health->body == "ok\n");

  auto missing = client.Get("/nope");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(snapshots == 3);
}

TEST_CASE("web: /healthz is 503 with the reason while not healthy" * doctest::timeout(60)) {
  std::atomic<bool> stopping{true};
  mode::WebServer web{"127.0.0.1", 0, tree, mode::process_stats, [&](const mode::ServiceNode&) {
                        return stopping ? std::string{"stopping"} : std::string{};
                      }};
  httplib::Client client{"127.0.0.1", web.port()};
  auto res = client.Get("/healthz");
  REQUIRE(res);
  CHECK(res->status == 503);
  CHECK(res->body == "stopping\n");
  stopping = false;
  res = client.Get("/healthz");
  REQUIRE(res);
  CHECK(res->status == 200);

  mode::WebServer silent{"127.0.0.1", 0, [] {
                           mode::ServiceNode root;
                           root.label = "Worker";
                           root.note = "no answer within 1s: blocked?";
                           return root;
                         }};
  httplib::Client other{"127.0.0.1", silent.port()};
  res = other.Get("/healthz");
  REQUIRE(res);
  CHECK(res->status == 503);
  CHECK(res->body == "no answer\n");
}

TEST_CASE("web: a port in use and an address not of this host are errors naming them" *
          doctest::timeout(60)) {
  mode::WebServer first{"127.0.0.1", 0, tree};
  try {
    mode::WebServer second{"127.0.0.1", first.port(), tree};
    FAIL("a second server on the same port");
  } catch (const std::system_error& e) {
    CHECK(std::string{e.what()}.find(fmt::format("127.0.0.1:{}", first.port())) !=
          std::string::npos);
  }
  CHECK_THROWS_WITH_AS(mode::WebServer("203.0.113.7", 0, tree),
                       doctest::Contains("cannot listen on 203.0.113.7:0"), std::system_error);
  CHECK_THROWS_WITH_AS(mode::WebServer("not-an-address", 0, tree),
                       doctest::Contains("not-an-address"), std::system_error);
}
