// mode::WebServer: the Worker's HTTP endpoint (--web-port), on cpp-httplib:
//
//   GET /          the status page: the supervision tree drawn live, states coloured
//   GET /api/tree  the tree as JSON (mode::to_json), which the page polls every second
//   GET /metrics   Prometheus text (mode::render_metrics)
//   GET /healthz   200 "ok" while the root service runs and answers; 503 and its state
//                  while it starts, stops, crashed or does not answer (probes)
//
// It listens on 127.0.0.1 unless told another address, serves on threads of its own,
// and takes a snapshot of the tree for every request that needs one.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "mode/graph.hpp"
#include "mode/metrics.hpp"

namespace mode {

/// The status page's HTML (self-contained: no request leaves the server).
std::string_view status_page_html() noexcept;

class WebServer {
 public:
  /// Listens on `host`:`port` (0: a free port) and starts serving. `snapshot` gathers
  /// the tree, `process` the process's figures. Throws std::system_error naming the
  /// address if it cannot listen (a port in use, an address that is not this host's).
  /// `unhealthy` says why /healthz fails (empty: healthy); by default, a root that
  /// did not answer or does not run.
  WebServer(std::string host, std::uint16_t port, std::function<ServiceNode()> snapshot,
            std::function<ProcessStats()> process = process_stats,
            std::function<std::string(const ServiceNode&)> unhealthy = {});
  /// Stops serving (requests in progress finish) and joins its threads.
  ~WebServer();
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

  [[nodiscard]] const std::string& host() const noexcept { return host_; }
  /// The port it listens on.
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  /// `http://host:port/`.
  [[nodiscard]] std::string url() const;

 private:
  struct impl;
  std::string host_;
  std::uint16_t port_ = 0;
  std::unique_ptr<impl> impl_;
};

}  // namespace mode
