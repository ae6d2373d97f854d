// mode::Worker on CAF: the command line, the actor system, signals, the exit status.
#include "mode/worker.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <new>
#include <optional>
#include <system_error>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <caf/all.hpp>
#include <caf/io/middleman.hpp>

#include "../src/worker_signals.hpp"
#include "introspection.hpp"
#include "mode/blocking_detector.hpp"
#include "mode/flight_recorder.hpp"
#include "mode/node.hpp"
#include "mode/service_handle.hpp"
#include "mode/systemd_notify.hpp"
#include "mode/web_server.hpp"
#include "service_actor.hpp"

namespace mode {

namespace {

// -- the command line -------------------------------------------------------------------------

// The Worker's options on CAF's option machinery: `--help` lists them next to CAF's
// own, and CAF's (`--scheduler.max-threads=2`, ...) go straight into the config.
class worker_config : public caf::actor_system_config {
 public:
  explicit worker_config(const WorkerOptions& defaults)
      : log_level(defaults.log_level),
        log_file(defaults.log_file),
        log_format(defaults.log_format),
        debug(defaults.debug),
        quiet(defaults.quiet),
        console_socket(defaults.console_socket),
        console_port(defaults.console_port ? int{*defaults.console_port} : -1),
        web_port(defaults.web_port ? int{*defaults.web_port} : -1),
        web_host(defaults.web_host),
        blocking_timeout(defaults.blocking_timeout.count()),
        stop_timeout(defaults.stop_timeout.count()),
        node_defaults(defaults.node.value_or(NodeOptions{})),
        node_port(defaults.node ? int{defaults.node->port} : -1),
        node_host(node_defaults.host),
        node_name(node_defaults.name),
        peers(peer_list(node_defaults.peers)),
        heartbeat(node_defaults.heartbeat_interval.count()),
        connection_timeout(node_defaults.connection_timeout.count()),
        request_timeout(node_defaults.request_timeout.count()),
        tls_certificate(node_defaults.tls_certificate),
        tls_key(node_defaults.tls_key),
        tls_ca_file(node_defaults.tls_ca_file),
        node_plain(node_defaults.plain_beyond_loopback) {
    opt_group{custom_options_, "global"}
        .add(log_level, "loglevel,l",
             fmt::format("log level: debug, info, warning, error, critical or a number "
                         "(default: {})",
                         defaults.log_level))
        .add(log_file, "logfile,f", "append the log to this file (default: stderr)")
        .add(log_format, "log-format",
             fmt::format("text (mode's format) or json (one object per line) (default: {})",
                         defaults.log_format))
        .add(debug, "debug", "start the debug console and the blocking detector")
        .add(quiet, "quiet,q", "print nothing on stdout/stderr besides the log")
        .add(console_socket, "console-socket",
             "debug console's Unix socket, mode 0600 (default: "
             "$XDG_RUNTIME_DIR/mode-console-<pid>.sock, else in /tmp)")
        .add(console_port, "console-port",
             fmt::format("serve the debug console on 127.0.0.1:PORT instead, 0 for any free "
                         "port, -1 for the Unix socket (default: {})",
                         console_port))
        .add(web_port, "web-port",
             fmt::format("serve the status page, /metrics and /healthz over HTTP on this port, "
                         "0 for any free port, -1 for none (default: {})",
                         web_port))
        .add(web_host, "web-host",
             fmt::format("the address the web server listens on (default: {})", defaults.web_host))
        .add(blocking_timeout, "blocking-timeout",
             fmt::format("seconds a handler may block its thread before the blocking detector "
                         "reports it (default: {})",
                         defaults.blocking_timeout.count()))
        .add(stop_timeout, "stop-timeout",
             fmt::format("seconds stopping may take before the process exits with status 1 "
                         "(default: {})",
                         defaults.stop_timeout.count()));
    // In the global group too: CAF spells another group's options --group.name.
    opt_group{custom_options_, "global"}
        .add(node_port, "node-port",
             fmt::format("join a cluster: listen for peers on this port, 0 for any free port, -1 "
                         "for no node (default: {})",
                         node_port))
        .add(node_host, "node-host",
             fmt::format("the address the node listens on (default: {})", node_defaults.host))
        .add(node_name, "node-name", "the node's name in logs and to peers (default: node-<pid>)")
        .add(peers, "peers",
             "connect to these nodes at the start: host:port,... (alone: a node on any free "
             "port)")
        .add(heartbeat, "heartbeat",
             fmt::format("seconds between heartbeats on each connection (default: {})",
                         node_defaults.heartbeat_interval.count()))
        .add(connection_timeout, "connection-timeout",
             fmt::format("seconds of silence after which a peer is lost (default: {})",
                         node_defaults.connection_timeout.count()))
        .add(request_timeout, "request-timeout",
             fmt::format("seconds each remote call may take (default: {})",
                         node_defaults.request_timeout.count()))
        .add(tls_certificate, "tls-certificate",
             "TLS between nodes: this node's certificate chain (PEM); with --tls-key and "
             "--tls-ca-file (default: none, plain TCP)")
        .add(tls_key, "tls-key", "the certificate's private key (PEM)")
        .add(tls_ca_file, "tls-ca-file", "the CA certificates (PEM) peers' certificates chain to")
        .add(node_plain, "node-plain",
             "allow plain TCP beyond loopback (--node-host or a peer elsewhere) without TLS");
  }

  /// The options' help text (without CAF's groups; those are in --long-help).
  std::string help() const { return custom_options_.help_text(true); }

  /// Copies the parsed values into `opts`. Throws std::invalid_argument (naming the
  /// option) for a number that is no valid Seconds.
  void apply(WorkerOptions& opts) const {
    opts.log_level = log_level;
    opts.log_file = log_file;
    opts.log_format = log_format;
    opts.debug = debug;
    opts.quiet = quiet;
    opts.console_socket = console_socket;
    if (console_port < -1 || console_port > 65535)
      throw std::invalid_argument(fmt::format(
          "--console-port: must be a port number 0 to 65535 (or -1: off), got '{}'", console_port));
    opts.console_port.reset();
    if (console_port >= 0)
      opts.console_port = static_cast<std::uint16_t>(console_port);
    if (web_port < -1 || web_port > 65535)
      throw std::invalid_argument(fmt::format(
          "--web-port: must be a port number 0 to 65535 (or -1: off), got '{}'", web_port));
    opts.web_port.reset();
    if (web_port >= 0)
      opts.web_port = static_cast<std::uint16_t>(web_port);
    opts.web_host = web_host;
    auto seconds = [](double value, const char* name) {
      try {
        return Seconds{value};
      } catch (const std::invalid_argument&) {
        throw std::invalid_argument(
            fmt::format("{}: must be a positive number of seconds, got '{}'", name, value));
      }
    };
    opts.blocking_timeout = seconds(blocking_timeout, "--blocking-timeout");
    opts.stop_timeout = seconds(stop_timeout, "--stop-timeout");
    if (node_port < -1 || node_port > 65535)
      throw std::invalid_argument(fmt::format(
          "--node-port: must be a port number 0 to 65535 (or -1: off), got '{}'", node_port));
    opts.node.reset();
    if (node_port < 0 && peers.empty())
      return;
    NodeOptions node = node_defaults;
    node.port = static_cast<std::uint16_t>(std::max<std::int64_t>(node_port, 0));
    node.host = node_host;
    node.name = node_name;
    try {
      node.peers = parse_peers(peers);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(fmt::format("--peers: {}", e.what()));
    }
    node.heartbeat_interval = seconds(heartbeat, "--heartbeat");
    node.connection_timeout = seconds(connection_timeout, "--connection-timeout");
    node.request_timeout = seconds(request_timeout, "--request-timeout");
    node.tls_certificate = tls_certificate;
    node.tls_key = tls_key;
    node.tls_ca_file = tls_ca_file;
    node.plain_beyond_loopback = node_plain;
    opts.node = std::move(node);
  }

  static std::string peer_list(const std::vector<PeerAddress>& list) {
    std::string out;
    for (const auto& p : list)
      out += (out.empty() ? "" : ",") + p.to_string();
    return out;
  }

  std::string log_level;
  std::string log_file;
  std::string log_format;
  bool debug;
  bool quiet;
  std::string console_socket;
  std::int64_t console_port;
  std::int64_t web_port;
  std::string web_host;
  double blocking_timeout;
  double stop_timeout;
  NodeOptions node_defaults;
  std::int64_t node_port;
  std::string node_host;
  std::string node_name;
  std::string peers;
  double heartbeat;
  double connection_timeout;
  double request_timeout;
  std::string tls_certificate;
  std::string tls_key;
  std::string tls_ca_file;
  bool node_plain;
};

// CAF's parser errors name the argument in a settings context; say what was wrong
// with it in words.
std::string describe_parse_error(const caf::error& err) {
  std::string arg;
  const auto& ctx = err.context();
  if (ctx.match_elements<caf::settings>())
    if (auto text = caf::get_if<std::string>(&ctx.get_as<caf::settings>(0), "argument"))
      arg = *text;
  if (err.category() == caf::atom("parser")) {
    auto code = static_cast<caf::pec>(err.code());
    switch (code) {
      case caf::pec::not_an_option:
        return fmt::format("unknown option '{}'", arg);
      case caf::pec::missing_argument:
        return fmt::format("option '{}' needs a value", arg);
      default:
        return fmt::format("bad value in '{}' ({})", arg, caf::to_string(code));
    }
  }
  if (err == caf::sec::cannot_open_file)
    return "cannot open the config file " + caf::to_string(ctx);
  return caf::to_string(err);
}

bool asks_for_help(const std::vector<std::string>& args) {
  for (auto& a : args)
    if (a == "-h" || a == "-?" || a == "--help" || a == "--long-help")
      return true;
  return false;
}

bool is_out_of_memory(const std::exception_ptr& error) {
  if (!error)
    return false;
  try {
    std::rethrow_exception(error);
  } catch (const std::bad_alloc&) {
    return true;
  } catch (const std::exception& e) {
    // A crash that travelled through other services is a ServiceCrashed whose text
    // chain ends with the original exception.
    return std::strstr(e.what(), "std::bad_alloc") != nullptr ||
           std::strstr(e.what(), "std::bad_array_new_length") != nullptr;
  } catch (...) {
    return false;
  }
}

}  // namespace

// -- runtime: what exists while execute_from_commandline() runs ----------------------------------

struct Worker::runtime {
  explicit runtime(Worker& w) : worker(w), log(get_logger("mode.worker")) {}

  Worker& worker;
  std::shared_ptr<spdlog::logger> log;

  std::mutex mtx;  // guards the fields up to `deadline`
  caf::actor_system* sys = nullptr;
  ServiceHandle handle;
  bool shutdown_started = false;
  bool stop_requested = false;
  TimerHandle deadline;

  ThreadTimerScheduler timers;  // the stop deadline fires on its thread

  SystemdNotifier systemd;     // READY/STOPPING/STATUS under systemd (NOTIFY_SOCKET)
  bool told_stopping = false;  // guarded by mtx
  std::unique_ptr<SystemdWatchdog> watchdog;

  void tell_stopping_locked(std::string_view why) {
    if (told_stopping)
      return;
    told_stopping = true;
    systemd.stopping(why);
  }

  /// Everyone who exits early goes through here: flush what was logged, then leave
  /// without running destructors (~actor_system would wait for stuck actors forever).
  [[noreturn]] void force_exit(const std::string& why) {
    log->critical("{}", why);
    spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& lg) { lg->flush(); });
    std::fflush(nullptr);
    std::_Exit(exit_status::failure);
  }

  void arm_deadline_locked() {
    if (deadline.valid())
      return;
    auto limit = worker.options_.stop_timeout;
    deadline = timers.schedule(
        std::chrono::duration_cast<TimerScheduler::duration>(limit.duration()), [this, limit] {
          force_exit(fmt::format(
              "Stopping did not finish within {}s (--stop-timeout): forcing exit", limit.count()));
        });
  }

  /// A signal or schedule_shutdown(): the first starts the stop, a later one while
  /// stopping forces exit 1.
  void request_stop(const std::string& why) {
    std::unique_lock<std::mutex> guard{mtx};
    if (shutdown_started) {
      guard.unlock();
      force_exit(fmt::format("{} while stopping: forcing exit", why));
    }
    shutdown_started = true;
    stop_requested = true;
    arm_deadline_locked();
    log->info("{}: stopping", why);
    worker.phase_ = 2;
    tell_stopping_locked(why);
    if (handle)
      handle.send_stop();
  }

  /// The main thread's stop phase begins (after a crash, a non-daemon run, or after a
  /// signal's stop): from here on every stop step runs under the deadline.
  void begin_shutdown() {
    std::lock_guard<std::mutex> guard{mtx};
    shutdown_started = true;
    arm_deadline_locked();
    worker.phase_ = 2;
    tell_stopping_locked("Stopping");
  }

  ServiceNode snapshot(Seconds timeout = 1.0) {
    caf::actor_system* s = nullptr;
    caf::actor root;
    {
      std::lock_guard<std::mutex> guard{mtx};
      s = sys;
      if (handle)
        root = handle.actor();
    }
    if (s == nullptr || !root)
      return ServiceNode{};
    return detail::inspect_actor(*s, root, detail::type_label(worker), timeout);
  }

  void on_signal(int sig) {
    switch (sig) {
      case SIGINT:
        worker.carp("-INT- -INT- -INT- -INT- -INT- -INT-");
        request_stop(fmt::format("Signal received: SIGINT ({})", sig));
        break;
      case SIGTERM:
        request_stop(fmt::format("Signal received: SIGTERM ({})", sig));
        break;
      case SIGUSR1: {
        // mode's cry(): every pending task, where it waits. Not silenced by quiet.
        auto text = "Pending tasks (SIGUSR1):\n" + render_tasks(snapshot());
        worker.write_line(*worker.stderr_, text);
        break;
      }
      case SIGUSR2:
        worker.write_line(*worker.stderr_, to_dot(snapshot()));
        break;
      default:
        break;
    }
  }
};

// -- Worker -------------------------------------------------------------------------------------

Worker::Worker(std::vector<std::shared_ptr<Service>> services, WorkerOptions options)
    : services_(std::move(services)), options_(std::move(options)) {
  for (std::size_t i = 0; i < services_.size(); ++i)
    if (!services_[i])
      throw std::invalid_argument(fmt::format("mode::Worker: service #{} is null", i));
  // mode keeps the streams it was given: say() and carp() bypass a later redirection.
  own_stdout_ = std::make_unique<std::ostream>(std::cout.rdbuf());
  own_stderr_ = std::make_unique<std::ostream>(std::cerr.rdbuf());
  stdout_ = options_.stdout_stream != nullptr ? options_.stdout_stream : own_stdout_.get();
  stderr_ = options_.stderr_stream != nullptr ? options_.stderr_stream : own_stderr_.get();
}

Worker::~Worker() {
  stop_debug_tools();
}

std::vector<std::shared_ptr<Service>> Worker::on_init_dependencies() {
  return services_;
}

std::string Worker::label() const {
  auto text = Service::label();
  if (!node_name_.empty())
    text += "@" + node_name_;
  return text;
}

Node* Worker::node() const {
  std::lock_guard<std::mutex> guard{runtime_mtx_};
  return node_.get();
}

// -- output -------------------------------------------------------------------------------------

void Worker::write_line(std::ostream& out, std::string_view msg) {
  std::lock_guard<std::mutex> guard{output_mtx_};
  out << msg << '\n';
  out.flush();
}

void Worker::say(std::string_view msg) {
  if (!options_.quiet)
    write_line(*stdout_, msg);
}

void Worker::carp(std::string_view msg) {
  if (!options_.quiet)
    write_line(*stderr_, msg);
}

// -- first start ----------------------------------------------------------------------------------

task<void> Worker::on_first_start() {
  if (options_.override_logging) {
    int level = 0;
    try {
      LoggingOptions logging;
      logging.log_level = options_.log_level;
      logging.log_file = options_.log_file;
      logging.log_handlers = options_.log_handlers;
      logging.logging_config = options_.logging_config;
      logging.log_format = options_.log_format;
      level = setup_logging(logging);
    } catch (const std::exception& e) {
      // The log is what failed: say it where it is seen, then fail the start.
      write_line(*stderr_, fmt::format("CANNOT SETUP LOGGING: {}", e.what()));
      throw;
    }
    on_setup_root_logger(level);
  }
  if (options_.redirect_stdouts)
    add_context(std::make_unique<StdoutRedirect>(get_logger("mode.redirect"),
                                                 options_.redirect_stdouts_level));
  if (auto* node = this->node()) {
    std::string peers;
    for (const auto& p : node->peers())
      peers +=
          fmt::format("{}{} ({})", peers.empty() ? "" : ", ", p.name(), p.address().to_string());
    log().info("Node {} on {}; peers: {}", node->name(),
               PeerAddress{node->host(), node->port()}.to_string(), peers.empty() ? "none" : peers);
  }
  co_await on_execute();
  if (options_.web_port)
    start_web();
  if (options_.debug) {
    start_debug_tools();
    bool standalone = false;
    {
      std::lock_guard<std::mutex> guard{runtime_mtx_};
      standalone = runtime_ == nullptr;
    }
    // Under execute_from_commandline the tools outlive the stop (the console helps to
    // look at a stop that hangs) and end with the actor system. A worker started some
    // other way ends them when it stops, as mode's add_context does.
    if (standalone) {
      struct tools_guard {
        Worker* self;
        ~tools_guard() { self->stop_debug_tools(); }
      };
      add_context(std::make_unique<tools_guard>(tools_guard{this}));
    }
  }
}

std::function<ServiceNode()> Worker::tree_snapshot(detail::service_actor& self) const {
  // A weak address: the console and the web server must not keep the worker's actor
  // alive.
  auto* sys = &self.home_system();
  auto addr = self.address();
  auto label = detail::type_label(*this);
  return [sys, addr, label] {
    auto root = caf::actor_cast<caf::actor>(addr);
    if (!root) {
      ServiceNode gone;
      gone.label = label;
      gone.note = "its actor exited";
      return gone;
    }
    return detail::inspect_actor(*sys, root, label, 1.0);
  };
}

void Worker::start_debug_tools() {
  auto* self = detail::running_actor();
  if (self == nullptr)
    return;
  std::lock_guard<std::mutex> guard{tools_mtx_};
  if (!detector_) {
    BlockingDetectorOptions opts;
    opts.timeout = options_.blocking_timeout;
    detector_ = std::make_unique<BlockingDetector>(std::move(opts));
    detector_->start();
  }
  if (!console_) {
    auto snapshot = tree_snapshot(*self);
    try {
      if (options_.console_port) {
        console_ = std::make_unique<Console>(*options_.console_port, std::move(snapshot));
        log().info("Console on 127.0.0.1:{} (nc 127.0.0.1 {})", console_->port(), console_->port());
      } else {
        auto path =
            options_.console_socket.empty() ? default_console_socket() : options_.console_socket;
        console_ = std::make_unique<Console>(std::filesystem::path{path}, std::move(snapshot));
        log().info("Console on unix:{} (nc -U {})", path, path);
      }
    } catch (const std::system_error& e) {
      log().warn("Cannot start the console: {} ({}); running without it", e.what(),
                 e.code().message());
    }
  }
}

void Worker::start_web() {
  auto* self = detail::running_actor();
  if (self == nullptr)
    return;
  auto* sys = &self->home_system();
  auto snapshot = tree_snapshot(*self);
  auto process = [sys] {
    auto stats = process_stats();
    stats.running_actors = sys->registry().running();
    stats.scheduler_threads = sys->scheduler().num_workers();
    return stats;
  };
  std::lock_guard<std::mutex> guard{tools_mtx_};
  if (web_)
    return;
  try {
    web_ = std::make_unique<WebServer>(options_.web_host, *options_.web_port, std::move(snapshot),
                                       std::move(process),
                                       [this](const ServiceNode& root) { return unhealthy(root); });
    log().info("Web on {} (status page; /metrics, /api/tree, /healthz)", web_->url());
  } catch (const std::system_error& e) {
    log().warn("Cannot start the web server: {} ({}); running without it", e.what(),
               e.code().message());
  }
}

std::string Worker::unhealthy(const ServiceNode& root) const {
  switch (phase_.load()) {
    case 0:
      return "starting";
    case 2:
      return "stopping";
    default:
      break;
  }
  if (!root.answered)
    return "no answer";
  return root.state == "running" ? std::string{} : root.state;
}

std::uint16_t Worker::web_port() const {
  std::lock_guard<std::mutex> guard{tools_mtx_};
  return web_ ? web_->port() : 0;
}

void Worker::stop_debug_tools() {
  std::unique_ptr<Console> console;
  std::unique_ptr<BlockingDetector> detector;
  std::unique_ptr<WebServer> web;
  {
    std::lock_guard<std::mutex> guard{tools_mtx_};
    console = std::move(console_);
    detector = std::move(detector_);
    web = std::move(web_);
  }
  // Joined outside the lock: their threads may be asking for a snapshot.
  console.reset();
  detector.reset();
  web.reset();
}

std::uint16_t Worker::console_port() const {
  std::lock_guard<std::mutex> guard{tools_mtx_};
  return console_ ? console_->port() : 0;
}

std::string Worker::console_socket() const {
  std::lock_guard<std::mutex> guard{tools_mtx_};
  return console_ ? console_->socket_path().native() : std::string{};
}

// -- running ----------------------------------------------------------------------------------

void Worker::schedule_shutdown() {
  std::lock_guard<std::mutex> guard{runtime_mtx_};
  if (runtime_ != nullptr)
    runtime_->request_stop("Shutdown requested");
}

caf::actor_system* Worker::system() const {
  std::lock_guard<std::mutex> guard{runtime_mtx_};
  return system_;
}

ServiceNode Worker::service_tree(Seconds timeout) const {
  std::lock_guard<std::mutex> guard{runtime_mtx_};
  if (runtime_ == nullptr)
    return ServiceNode{};
  return runtime_->snapshot(timeout);
}

int Worker::execute_from_commandline(int argc, char** argv) {
  std::vector<std::string> args;
  if (argc > 1)
    args.assign(argv + 1, argv + argc);
  std::string prog = argc > 0 && argv[0] != nullptr ? argv[0] : "worker";
  if (auto slash = prog.rfind('/'); slash != std::string::npos)
    prog.erase(0, slash + 1);
  return execute(prog, &args);
}

int Worker::execute_from_commandline() {
  return execute("worker", nullptr);
}

WorkerSignals::WorkerSignals()
    : block_(std::make_unique<detail::signal_block>(
          std::initializer_list<int>{SIGINT, SIGTERM, SIGUSR1, SIGUSR2})) {}

WorkerSignals::~WorkerSignals() = default;

int Worker::execute_from_commandline(caf::actor_system& sys) {
  if (detail::on_scheduler_thread(sys))
    throw std::logic_error(
        "mode: Worker::execute_from_commandline(sys) was called on an actor's "
        "thread; call it from main (or another plain thread)");
  validate(options_);
  sigset_t mask;
  pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  for (int sig : {SIGINT, SIGTERM, SIGUSR1, SIGUSR2})
    if (sigismember(&mask, sig) != 1)
      throw std::logic_error(fmt::format(
          "mode: Worker::execute_from_commandline(sys): {} is not blocked, so a thread of the "
          "actor system would take it; create a mode::WorkerSignals before the "
          "caf::actor_system",
          detail::signal_name(sig)));
  detail::signal_block blocked{SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
  runtime rt{*this};
  detail::signal_thread signals{blocked.set(), [&rt](int sig) {
                                  rt.on_signal(sig);
                                }};
  int status = run(rt, sys);
  signals.stop();
  {
    std::lock_guard<std::mutex> guard{rt.mtx};
    rt.deadline.cancel();
  }
  return status;
}

int Worker::execute(const std::string& prog, std::vector<std::string>* args) {
  try {
    worker_config cfg{options_};
    auto usage_error = [&](const std::string& what) {
      std::fputs(fmt::format("{}: {}\nUsage: {} [options]\n{}\nCAF's own options (e.g. "
                             "--scheduler.max-threads=N, also spelt --caf.scheduler...) are "
                             "listed by --long-help.\n",
                             prog, what, prog, cfg.help())
                     .c_str(),
                 stderr);
      return exit_status::usage;
    };
    if (args != nullptr) {
      auto normalized = normalize_arguments(std::move(*args));
      if (asks_for_help(normalized))
        std::cout << "Usage: " << prog << " [options]\n";
      if (auto err = cfg.parse(std::move(normalized)))
        return usage_error(describe_parse_error(err));
      if (cfg.cli_helptext_printed)
        return exit_status::ok;
      if (!cfg.remainder.empty())
        return usage_error(fmt::format("unexpected argument '{}'", cfg.remainder.front()));
      try {
        cfg.apply(options_);
      } catch (const std::invalid_argument& e) {
        return usage_error(e.what());
      }
    }
    try {
      validate(options_);
    } catch (const std::invalid_argument& e) {
      return usage_error(e.what());
    }
    // Before the actor system starts its threads, so that they inherit the mask and
    // only the signal thread ever takes these signals.
    detail::signal_block blocked{SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
    runtime rt{*this};
    detail::signal_thread signals{blocked.set(), [&rt](int sig) {
                                    rt.on_signal(sig);
                                  }};
    if (options_.node)
      configure_node(cfg, *options_.node);
    int status = exit_status::failure;
    {
      std::optional<caf::actor_system> sys;
      sys.emplace(cfg);
      status = run(rt, *sys);
      // Connections first: a proxy of a peer's actor must not outlive the middleman.
      if (options_.node)
        sys->middleman().stop();
      // ~actor_system waits for every actor; the stop deadline still bounds it.
      sys.reset();
    }
    signals.stop();
    {
      std::lock_guard<std::mutex> guard{rt.mtx};
      rt.deadline.cancel();
    }
    return status;
  } catch (const std::bad_alloc&) {
    std::fputs("mode::Worker: out of memory\n", stderr);
    return exit_status::oserr;
  }
}

bool Worker::start_node(runtime& rt, caf::actor_system& sys) {
  try {
    auto node = std::make_unique<Node>(sys, *options_.node);
    node_name_ = node->name();
    {
      std::lock_guard<std::mutex> guard{runtime_mtx_};
      node_ = std::move(node);
    }
    on_node_started(*node_);
    return true;
  } catch (const std::exception& e) {
    // Logging is not set up yet: Python's last resort prints this bare on stderr.
    rt.log->critical("Cannot join the cluster: {}", e.what());
    end_node();
    return false;
  }
}

void Worker::end_node() {
  std::unique_ptr<Node> node;
  {
    std::lock_guard<std::mutex> guard{runtime_mtx_};
    node = std::move(node_);
  }
  node.reset();  // stops what peers made here, with the node's request deadline
}

int Worker::run(runtime& rt, caf::actor_system& sys) {
  // Before the worker's actor exists: its label names the node, and on_node_started may
  // add services.
  if (options_.node && !start_node(rt, sys))
    return exit_status::failure;
  // The worker hosts itself: it must outlive the actor system, which it does (the
  // system is gone when execute_from_commandline returns). A worker made by
  // make_shared is shared as it is; one on the stack gets a non-owning pointer.
  std::shared_ptr<Service> self = weak_from_this().lock();
  if (!self)
    self = std::shared_ptr<Service>(this, [](Service*) {});
  ServiceHandle handle{sys, self};
  {
    std::lock_guard<std::mutex> guard{rt.mtx};
    rt.sys = &sys;
    rt.handle = handle;
  }
  {
    std::lock_guard<std::mutex> guard{runtime_mtx_};
    runtime_ = &rt;
    system_ = &sys;
  }
  auto stop_was_requested = [&rt] {
    std::lock_guard<std::mutex> guard{rt.mtx};
    return rt.stop_requested;
  };
  bool failed = false;
  std::exception_ptr oom;
  try {
    if (!stop_was_requested()) {
      // No deadline on the start (services may take long); a signal stops it.
      handle.start(std::chrono::hours{24 * 365});
      if (!stop_was_requested())
        phase_ = 1;
      rt.systemd.ready(fmt::format("Running ({} service{})", services_.size(),
                                   services_.size() == 1 ? "" : "s"));
      // Pings only while the worker's actor answers within half the watchdog timeout.
      rt.watchdog = std::make_unique<SystemdWatchdog>(rt.systemd, [handle](auto bound) {
        try {
          (void)handle.state(Seconds{std::chrono::duration<double>(bound).count()});
          return true;
        } catch (const std::exception&) {
          return false;
        }
      });
      if (options_.daemon && !stop_was_requested())
        handle.wait_until_stopped();
    }
  } catch (const std::bad_alloc&) {
    oom = std::current_exception();
    failed = true;
  } catch (const std::exception& e) {
    rt.log->error("Error: {}", e.what());
    failed = true;
  }
  try {
    on_worker_shutdown();
  } catch (const std::exception& e) {
    rt.log->error("Error in on_worker_shutdown: {}", e.what());
    failed = true;
  }
  // mode's stop_and_shutdown: stop unless stopped (or finish the signal's stop).
  rt.begin_shutdown();
  auto limit = options_.stop_timeout;
  try {
    handle.stop(limit);
    handle.wait_until_stopped(limit);
  } catch (const std::exception& e) {
    rt.log->error("Error while stopping: {}", e.what());
    failed = true;
  }
  ServiceState state = ServiceState::crashed;
  try {
    state = handle.state(limit);
  } catch (const std::exception& e) {
    rt.log->error("Cannot read the worker's state: {}", e.what());
  }
  int status = failed ? exit_status::failure : exit_status::ok;
  if (state == ServiceState::crashed) {
    // The actor finished its stop sequence (or exited): the reason is settled.
    auto reason = crash_reason();
    rt.log->critical("We experienced a crash! Reason: {}",
                     reason ? describe_exception(reason) : std::string{"unknown"});
    status = exit_status::failure;
    if (is_out_of_memory(reason))
      oom = reason;
  }
  if (oom)
    status = exit_status::oserr;
  rt.watchdog.reset();
  stop_debug_tools();
  end_node();
  {
    std::lock_guard<std::mutex> guard{runtime_mtx_};
    runtime_ = nullptr;
    system_ = nullptr;
  }
  {
    std::lock_guard<std::mutex> guard{rt.mtx};
    rt.sys = nullptr;
    rt.handle = ServiceHandle{};
  }
  return status;
}

}  // namespace mode
