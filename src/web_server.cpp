// The Worker's HTTP endpoint on cpp-httplib (mode/web_server.hpp).
#include "mode/web_server.hpp"

#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <stdexcept>
#include <system_error>

#include <fmt/format.h>
#include <httplib.h>

namespace mode {

namespace {

constexpr const char* page_policy =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'";

}  // namespace

struct WebServer::impl {
  httplib::Server server;
  std::function<ServiceNode()> snapshot;
  std::function<ProcessStats()> process;
  std::function<std::string(const ServiceNode&)> unhealthy;
  std::atomic<bool> ended{false};
  std::thread thread;
};

WebServer::WebServer(std::string host, std::uint16_t port, std::function<ServiceNode()> snapshot,
                     std::function<ProcessStats()> process,
                     std::function<std::string(const ServiceNode&)> unhealthy)
    : host_(std::move(host)), impl_(std::make_unique<impl>()) {
  impl_->snapshot = std::move(snapshot);
  impl_->process = std::move(process);
  if (!unhealthy)
    unhealthy = [](const ServiceNode& root) {
      if (!root.answered)
        return std::string{"no answer"};
      return root.state == "running" ? std::string{} : root.state;
    };
  impl_->unhealthy = std::move(unhealthy);
  auto& svr = impl_->server;
  svr.set_read_timeout(5, 0);
  svr.set_write_timeout(5, 0);
  svr.set_payload_max_length(64 * 1024);  // GETs only: nothing big to read
  // httplib's default adds SO_REUSEPORT, with which a second server on the same port
  // binds as well and takes half the connections: a port in use must be an error.
  svr.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  auto* self = impl_.get();
  svr.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Content-Security-Policy", page_policy);
    res.set_header("Cache-Control", "no-store");
    res.set_content(std::string{status_page_html()}, "text/html; charset=utf-8");
  });
  svr.Get("/api/tree", [self](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.set_content(to_json(self->snapshot()), "application/json");
  });
  svr.Get("/metrics", [self](const httplib::Request&, httplib::Response& res) {
    res.set_content(render_metrics(self->snapshot(), self->process(), signal_stats()),
                    "text/plain; version=0.0.4; charset=utf-8");
  });
  svr.Get("/healthz", [self](const httplib::Request&, httplib::Response& res) {
    auto why = self->unhealthy(self->snapshot());
    res.status = why.empty() ? 200 : 503;
    res.set_header("Cache-Control", "no-store");
    res.set_content(why.empty() ? std::string{"ok\n"} : why + "\n", "text/plain; charset=utf-8");
  });
  auto where = fmt::format("{}:{}", host_, port);
  errno = 0;
  int bound = port == 0 ? svr.bind_to_any_port(host_) : (svr.bind_to_port(host_, port) ? port : -1);
  if (bound <= 0) {
    int err = errno != 0 ? errno : EADDRNOTAVAIL;
    throw std::system_error(err, std::generic_category(),
                            fmt::format("mode web server: cannot listen on {}", where));
  }
  port_ = static_cast<std::uint16_t>(bound);
  impl_->thread = std::thread{[self] {
    self->server.listen_after_bind();
    self->ended = true;
  }};
  // httplib's stop() does nothing before the loop runs: wait for it, so that the
  // destructor always ends it.
  while (!svr.is_running() && !impl_->ended)
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  if (!svr.is_running()) {
    impl_->thread.join();
    throw std::system_error(EIO, std::generic_category(),
                            fmt::format("mode web server: cannot serve on {}", where));
  }
}

WebServer::~WebServer() {
  impl_->server.stop();
  if (impl_->thread.joinable())
    impl_->thread.join();
}

std::string WebServer::url() const {
  return fmt::format("http://{}:{}/", host_, port_);
}

}  // namespace mode
