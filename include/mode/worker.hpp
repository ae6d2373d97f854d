// mode::Worker: runs services as a program, from main() to the exit status.
//
// mode's Worker (mode/worker.py) is a Service whose children are the program's
// services; it adds what a process needs: command-line options, logging set up
// once, signal handling, an exit status, and in debug mode a console and a blocking
// detector. A program is:
//
//   int main(int argc, char** argv) {
//     mode::Worker worker{{std::make_shared<Web>(), std::make_shared<Db>()}};
//     return worker.execute_from_commandline(argc, argv);
//   }
//
// execute_from_commandline() parses the options (CAF's option machinery, so `--help`
// lists them and CAF's own options such as `--scheduler.max-threads=4` pass through),
// builds the actor system, starts the worker, waits until it stops (a signal, a
// crash, or a service asking the worker to stop), stops everything in reverse order
// and returns the exit status:
//
//   0   clean stop (also after --help)
//   1   a crash (the reason is logged), a failed start, a stop that missed its
//       deadline, or a second SIGINT/SIGTERM during the shutdown
//   64  bad command line (EX_USAGE): the error and the usage go to stderr, nothing ran
//   71  out of memory (EX_OSERR): std::bad_alloc escaped or crashed a service
//
// Signals (handled on a dedicated sigwait thread, never in a signal handler):
// SIGINT carps "-INT- -INT- -INT- -INT- -INT- -INT-" and stops; SIGTERM stops; a
// second SIGINT/SIGTERM while stopping exits with status 1 at once; SIGUSR1 writes
// every service's pending tasks (file:line) to stderr; SIGUSR2 writes the service
// graph (DOT) to stderr. See docs/worker.md.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/common.h>

#include "mode/graph.hpp"
#include "mode/logging.hpp"
#include "mode/node_options.hpp"
#include "mode/service.hpp"
#include "mode/times.hpp"

namespace caf {
class actor_system;
}  // namespace caf

namespace mode {

class BlockingDetector;
class Console;
class Node;
class WebServer;

/// Exit statuses of execute_from_commandline() (BSD sysexits where they apply).
namespace exit_status {
/// Clean stop (mode's EX_OK).
inline constexpr int ok = 0;
/// Crash, failed start, missed stop deadline, forced exit (mode's EX_FAILURE).
inline constexpr int failure = 1;
/// Bad command line (EX_USAGE).
inline constexpr int usage = 64;
/// Out of memory (mode's EX_OSERR).
inline constexpr int oserr = 71;
}  // namespace exit_status

/// mode's Worker keyword arguments. The command line overrides some of them (named
/// below); the rest are set in code.
struct WorkerOptions {
  /// Start the console and the blocking detector. mode's `debug`; default false.
  /// `--debug`.
  bool debug = false;
  /// say() and carp() print nothing. mode's `quiet`; default false. `--quiet`.
  bool quiet = false;
  /// Log level name or number (see level_number()). mode's `loglevel`; default
  /// "WARNING" (mode passes None, which leaves Python's root at WARNING).
  /// `--loglevel`.
  std::string log_level = "WARNING";
  /// Log file; empty: stderr. mode's `logfile`; default empty. `--logfile`.
  std::string log_file{};
  /// "text" (mode's format) or "json" (one object per line: time, level, logger,
  /// service, message, pid; mode/json_log.hpp). Port addition; default "text".
  /// `--log-format`.
  std::string log_format = "text";
  /// Extra spdlog sinks for every record. mode's `loghandlers`; default none.
  std::vector<spdlog::sink_ptr> log_handlers{};
  /// Route std::cout/std::cerr writes into the log (StdoutRedirect) from the first
  /// start until the worker stops. mode's `redirect_stdouts`; default true.
  bool redirect_stdouts = true;
  /// The severity of redirected lines. mode's `redirect_stdouts_level`; default
  /// WARNING.
  Severity redirect_stdouts_level = Severity::warning;
  /// Where say() writes. mode's `stdout`; default (nullptr): the process's standard
  /// output as it was when the Worker was constructed (not the redirected std::cout).
  std::ostream* stdout_stream = nullptr;
  /// Where carp(), SIGUSR1's task dump and SIGUSR2's graph go. mode's `stderr`;
  /// default (nullptr): standard error as it was when the Worker was constructed.
  std::ostream* stderr_stream = nullptr;
  /// Call setup_logging() at the first start. mode's `override_logging`; default
  /// true.
  bool override_logging = true;
  /// Per-logger levels in SPDLOG_LEVEL syntax (see LoggingOptions::logging_config).
  /// mode's `logging_config`; default empty.
  std::string logging_config{};
  /// The debug console's Unix socket, mode 0600, so that only this user may connect.
  /// Port addition; default empty: default_console_socket(). `--console-socket`.
  std::string console_socket{};
  /// Serve the debug console on 127.0.0.1:`console_port` instead of the Unix socket; 0
  /// picks a free port. mode's `console_port`; default none (mode: 50101, TCP), since
  /// any local user can connect to a TCP port. `--console-port`.
  std::optional<std::uint16_t> console_port{};
  /// Serve the status page, /metrics, /api/tree and /healthz over HTTP on this port (0:
  /// a free one). Port addition; default none (off). `--web-port`.
  std::optional<std::uint16_t> web_port{};
  /// The address the web server listens on. Default "127.0.0.1" (this host only); name
  /// another ("0.0.0.0": every interface) to serve others. `--web-host`.
  std::string web_host = "127.0.0.1";
  /// The blocking detector's timeout. mode's `blocking_timeout`; default 10 s.
  /// `--blocking-timeout` (seconds).
  Seconds blocking_timeout{10.0};
  /// Run until stopped; if false, execute_from_commandline() stops right after the
  /// start. mode's `daemon`; default true.
  bool daemon = true;
  /// The most time stopping may take, from the stop request (signal, crash, or the
  /// end of a non-daemon run) until execute_from_commandline() returns; past it the
  /// process exits with status 1. Port addition (mode's stop can hang forever);
  /// default 65 s: Service::shutdown_timeout's 60 s plus time for the rest.
  /// `--stop-timeout` (seconds).
  Seconds stop_timeout{65.0};
  /// Join a cluster: run a mode::Node (mode/node.hpp) on the worker's actor system, built
  /// before the services start and ended after they stopped. Port addition; default none
  /// (not a node). `--node-port` turns it on (as does `--peers` alone: a free port), with
  /// `--node-host`, `--node-name`, `--peers`, `--heartbeat`, `--connection-timeout` and
  /// `--request-timeout` for the fields of NodeOptions.
  std::optional<NodeOptions> node{};
};

/// Checks option values: a known log level and log format, a positive finite
/// blocking_timeout and stop_timeout, a console_socket that fits a socket address, node
/// options that validate(const NodeOptions&). Throws
/// std::invalid_argument naming the option and quoting the value.
void validate(const WorkerOptions& options);

/// Where the console listens when WorkerOptions::console_socket is empty:
/// `$XDG_RUNTIME_DIR/mode-console-<pid>.sock` (a directory only the user may enter), or
/// `/tmp/mode-console-<pid>.sock` without XDG_RUNTIME_DIR.
std::string default_console_socket();

/// Command-line arguments as CAF 0.17 reads them: CAF 0.18+ spells its own options
/// `--caf.scheduler.max-threads`; 0.17 spells them `--scheduler.max-threads`. The
/// `--caf.` prefix is dropped so both spellings work. Other arguments are unchanged.
std::vector<std::string> normalize_arguments(std::vector<std::string> args);

namespace detail {
class signal_block;
}  // namespace detail

/// Blocks the Worker's signals (SIGINT, SIGTERM, SIGUSR1, SIGUSR2) in the calling
/// thread and in every thread it starts later, so that only the Worker's signal thread
/// takes them. Create one before your own caf::actor_system when a Worker runs on it
/// (Worker::execute_from_commandline(sys)); keep it until the system is gone. On
/// destruction it drops what is still pending and restores the previous mask.
class WorkerSignals {
 public:
  WorkerSignals();
  ~WorkerSignals();
  WorkerSignals(const WorkerSignals&) = delete;
  WorkerSignals& operator=(const WorkerSignals&) = delete;

 private:
  std::unique_ptr<detail::signal_block> block_;
};

/// A Worker: a Service whose children are the program's services, plus what a
/// process needs around them (see the file comment).
class Worker : public Service {
 public:
  /// A worker for `services` (mode's `*services`), started in order and stopped in
  /// reverse order, with `options` (mode's keyword arguments).
  explicit Worker(std::vector<std::shared_ptr<Service>> services = {}, WorkerOptions options = {});
  ~Worker() override;

  // -- running -----------------------------------------------------------------------

  /// mode's execute_from_commandline: parses `argv` (CAF-style options, see
  /// docs/worker.md), runs the worker until it stops and returns the exit status
  /// (return it from main). Call once, from the main thread, not from an actor.
  /// The worker must outlive the call (a Worker on main's stack is fine).
  int execute_from_commandline(int argc, char** argv);

  /// Runs with the options as set in code (no command line).
  int execute_from_commandline();

  /// Runs with the options as set in code on your own actor system, next to your
  /// plain CAF actors; returns the exit status. The system outlives the call (the
  /// services are stopped when it returns; CAF options in `options()` do not apply:
  /// the system is configured already). The worker's signals (SIGINT, SIGTERM,
  /// SIGUSR1, SIGUSR2) must be blocked before the system starts its threads: create a
  /// WorkerSignals before the caf::actor_system, else this throws std::logic_error.
  /// Invalid options throw std::invalid_argument (see validate). Not from an actor's
  /// thread (std::logic_error).
  int execute_from_commandline(caf::actor_system& sys);

  /// Asks a running worker to stop, as SIGTERM does (a second request while it stops
  /// forces exit 1). From any thread; does nothing outside execute_from_commandline().
  void schedule_shutdown();

  // -- output --------------------------------------------------------------------------

  /// Writes `msg` and a newline to stdout_stream, unless quiet. mode's say().
  void say(std::string_view msg);
  /// Writes `msg` and a newline to stderr_stream, unless quiet. mode's carp().
  void carp(std::string_view msg);

  // -- hooks (override these) ----------------------------------------------------------

  /// Runs at the first start, after logging is set up and before the console, the
  /// blocking detector and the services start. mode's on_execute.
  virtual task<void> on_execute() { co_return; }
  /// Called right after setup_logging() with its numeric level. mode's
  /// on_setup_root_logger.
  virtual void on_setup_root_logger(int level) { (void)level; }
  /// Called on the main thread once the worker stopped running (before the final
  /// stop and shutdown). mode's on_worker_shutdown.
  virtual void on_worker_shutdown() {}
  /// With WorkerOptions::node: called on the main thread once the node listens and its
  /// peers are connected, before any service starts. Register the service types peers
  /// may build here, and add the children that run on peers (mode::RemoteChild) to the
  /// services' supervisors. An exception fails the run (exit 1, the reason logged).
  /// Port addition.
  virtual void on_node_started(Node& node) { (void)node; }

  // -- Service ---------------------------------------------------------------------------

  /// The services given to the constructor (they become the children).
  std::vector<std::shared_ptr<Service>> on_init_dependencies() override;
  /// The class name, and `@<node name>` when the worker is a node (so the console, the
  /// graph and the status page name the node).
  [[nodiscard]] std::string label() const override;
  /// mode's default_on_first_start: logging, stdout redirection, on_execute(), then
  /// the console and the blocking detector if debug.
  task<void> on_first_start() override;

  // -- observers -------------------------------------------------------------------------

  /// The options (the command line's values once execute_from_commandline parsed it).
  [[nodiscard]] const WorkerOptions& options() const noexcept { return options_; }
  /// The options, to change before execute_from_commandline().
  WorkerOptions& options() noexcept { return options_; }
  /// The services given to the constructor.
  [[nodiscard]] const std::vector<std::shared_ptr<Service>>& services() const noexcept {
    return services_;
  }
  /// The actor system of the running execute_from_commandline() (nullptr outside it).
  [[nodiscard]] caf::actor_system* system() const;
  /// A snapshot of the service tree (see inspect()); from a thread that is not an
  /// actor, while execute_from_commandline() runs. Else an empty node.
  [[nodiscard]] ServiceNode service_tree(Seconds timeout = 1.0) const;
  /// The TCP port the console listens on (0 if it is not running or on a Unix socket).
  [[nodiscard]] std::uint16_t console_port() const;
  /// The Unix socket the console listens on (empty if it is not running or on TCP).
  [[nodiscard]] std::string console_socket() const;
  /// The web server's port (0 if it is not running).
  [[nodiscard]] std::uint16_t web_port() const;
  /// The node, while execute_from_commandline() runs with WorkerOptions::node (else
  /// nullptr). Its calls block: use it from a thread that is not an actor.
  [[nodiscard]] Node* node() const;

 private:
  struct runtime;
  friend struct runtime;

  int execute(const std::string& prog, std::vector<std::string>* args);
  int run(runtime& rt, caf::actor_system& sys);
  /// Builds the node and calls on_node_started(); false (logged) if either failed.
  bool start_node(runtime& rt, caf::actor_system& sys);
  void end_node();
  void start_debug_tools();
  void stop_debug_tools();
  void start_web();
  /// Gathers the tree below the worker's actor `self` from another thread (1 s per ask).
  std::function<ServiceNode()> tree_snapshot(detail::service_actor& self) const;
  /// Why /healthz fails now ("" while running after the start).
  std::string unhealthy(const ServiceNode& root) const;
  void write_line(std::ostream& out, std::string_view msg);

  std::vector<std::shared_ptr<Service>> services_;
  WorkerOptions options_;
  std::unique_ptr<std::ostream> own_stdout_;
  std::unique_ptr<std::ostream> own_stderr_;
  std::ostream* stdout_ = nullptr;
  std::ostream* stderr_ = nullptr;
  std::mutex output_mtx_;
  mutable std::mutex runtime_mtx_;  // guards system_ and runtime_
  caf::actor_system* system_ = nullptr;
  runtime* runtime_ = nullptr;
  mutable std::mutex tools_mtx_;
  std::unique_ptr<Console> console_;
  std::unique_ptr<BlockingDetector> detector_;
  std::unique_ptr<WebServer> web_;
  std::unique_ptr<Node> node_;  // guarded by runtime_mtx_
  /// The node's name, set before the worker's actor is spawned (label() reads it there).
  std::string node_name_;
  /// 0 starting, 1 running (every service started), 2 stopping: what /healthz says.
  std::atomic<int> phase_{0};
};

// -- the debug console -----------------------------------------------------------------

/// What the console answers to one command line.
struct ConsoleReply {
  /// The text to send (each line ends with '\n').
  std::string text;
  /// Close the connection after sending it.
  bool close = false;
};

/// The console's text protocol: `help`, `tree`, `tasks`, `graph`, `stats`, `quit` (or
/// `exit`);
/// surrounding whitespace and case are ignored, an empty line answers nothing. An
/// unknown command answers `error: unknown command 'x' (try 'help')`. `snapshot`
/// gathers the tree when a command needs it.
ConsoleReply console_reply(std::string_view line, const std::function<ServiceNode()>& snapshot);

/// What one console client may hold, so that no client can lock the others (or a
/// stop) out.
struct ConsoleLimits {
  /// A longer line is refused with an error line; the connection stays usable.
  std::size_t max_line = 4096;
  /// Connections at once; one more is told "error: too many connections" and closed.
  std::size_t max_clients = 16;
  /// A connection that sends and receives nothing for this long is closed.
  std::chrono::milliseconds idle_timeout = std::chrono::minutes{5};
  /// Answers waiting for a client that does not read: past this many bytes its input
  /// is not read until it reads (so memory stays bounded and the others are served).
  std::size_t max_pending_output = 1 << 20;
};

/// mode's debug console (aiomonitor in mode): a text console on a Unix socket that
/// only its user may open (`nc -U PATH`), or on 127.0.0.1 (`nc 127.0.0.1 PORT`), that
/// answers console_reply() commands, one line each, to several clients. It greets with a line
/// naming the commands and prompts with "mode> " after every answer. A client that half-closes
/// after its commands (`nc -N`) still gets every answer. Serves on a thread of its own, a bounded
/// amount of work per client at a time, within `ConsoleLimits`; its destructor never waits on a
/// client.
class Console {
 public:
  /// The prompt sent after the greeting and after every answer.
  static constexpr std::string_view prompt = "mode> ";

  /// Listens on 127.0.0.1:`port` (0: a free port) and starts serving. Throws
  /// std::system_error naming the address if it cannot listen (e.g. the port is in
  /// use).
  /// Throws std::invalid_argument if a limit is zero.
  Console(std::uint16_t port, std::function<ServiceNode()> snapshot, ConsoleLimits limits = {});
  /// Listens on a Unix socket at `socket_path`, mode 0600 (only this user may connect;
  /// any local user can reach a TCP port), and starts serving. A socket file left by a
  /// process that died is replaced; the file is removed when the console ends. Throws
  /// std::invalid_argument for a path that does not fit a socket address (107 bytes),
  /// std::system_error naming the path if another process answers there, if a file that
  /// is not a socket is in the way, or if it cannot listen.
  Console(std::filesystem::path socket_path, std::function<ServiceNode()> snapshot,
          ConsoleLimits limits = {});
  /// Closes every connection and joins the thread.
  ~Console();
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;

  /// The TCP port it listens on (0 on a Unix socket).
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  /// The Unix socket it listens on (empty on TCP).
  [[nodiscard]] const std::filesystem::path& socket_path() const noexcept { return socket_path_; }

 private:
  struct impl;
  void start_serving(const std::string& where);
  std::uint16_t port_ = 0;
  std::filesystem::path socket_path_;
  std::unique_ptr<impl> impl_;
};

}  // namespace mode
