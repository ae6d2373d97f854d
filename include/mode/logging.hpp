// Logging helpers: mode's `mode.utils.logging` on spdlog.
//
// mode builds on Python's `logging`: named loggers that propagate to the root
// logger, whose handlers `setup_logging` replaces. The port keeps that shape on
// spdlog. Every logger made by `get_logger` has one sink, the shared *root sink*
// (a `dist_sink`), and `setup_logging` swaps the sinks inside it under its
// mutex, so reconfiguring never touches a logger that another thread is using.
//
// Levels follow Python's numbers (DEBUG=10 ... CRITICAL=50) and map onto
// spdlog's levels; formatted lines print Python's level names (WARNING, INFO).
#pragma once

#include <cstddef>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <spdlog/common.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ringbuffer_sink.h>

namespace mode {

// -- severities ---------------------------------------------------------------

/// A log severity with Python's (and mode's) level numbers. Other numbers are
/// valid too (`static_cast<Severity>(25)`); they map onto the next lower level.
enum class Severity : int {
  /// NOTSET (0): everything passes; maps to spdlog's `trace`.
  notset = 0,
  /// DEBUG (10).
  debug = 10,
  /// INFO (20).
  info = 20,
  /// WARNING (30), also spelt WARN.
  warning = 30,
  /// ERROR (40).
  error = 40,
  /// CRITICAL (50), also spelt FATAL.
  critical = 50,
};

/// mode's `level_number`: a level name (case-insensitive: notset, debug, info,
/// warn, warning, error, critical, fatal) or a decimal number ("20") as
/// Python's level number. Throws std::invalid_argument quoting `level` when it
/// is neither (mode returned garbage for a bad name; the port refuses it).
int level_number(std::string_view level);

/// mode's `level_number` for a number: returns `level`; throws
/// std::invalid_argument for a negative number.
int level_number(int level);

/// The number of `severity`.
constexpr int level_number(Severity severity) noexcept {
  return static_cast<int>(severity);
}

/// mode's `level_name`: Python's name of a level number ("WARNING" for 30,
/// "Level 25" for a number without a name, as Python's getLevelName).
std::string level_name(int level);

/// Python's name for an spdlog level: TRACE, DEBUG, INFO, WARNING, ERROR,
/// CRITICAL, OFF.
std::string_view level_name(spdlog::level::level_enum level) noexcept;

/// The spdlog level for a Python level number: below 10 is `trace`, 10-19
/// `debug`, 20-29 `info`, 30-39 `warn`, 40-49 `err`, 50 and above `critical`.
/// Throws std::invalid_argument for a negative number.
spdlog::level::level_enum want_level(int level);

/// The spdlog level for `severity` (see want_level(int)).
spdlog::level::level_enum want_level(Severity severity);

/// The spdlog level for a name or number as level_number() accepts, plus
/// spdlog's own names "trace", "err" and "off". Throws std::invalid_argument
/// quoting `level` otherwise.
spdlog::level::level_enum want_level(std::string_view level);

// -- loggers --------------------------------------------------------------------

/// mode's `get_logger`: the logger called `name`, created on first use and
/// registered in spdlog's registry (so `spdlog::get(name)` finds it). A new
/// logger writes to the root sink that setup_logging() configures and takes
/// its level from the last setup_logging() (or spdlog's global level).
/// Thread-safe. Before any setup_logging(), records of WARNING and above go to
/// stderr as the bare message (Python's "last resort" handler).
std::shared_ptr<spdlog::logger> get_logger(std::string_view name);

/// mode's `DEFAULT_FORMAT` as an spdlog pattern, used for log files:
/// `[2018-04-19 09:43:55,877] [4242] [WARNING]: message`. `%*` is the Python
/// level name (a flag that mode's formatters add to spdlog's).
inline constexpr std::string_view default_format = "[%Y-%m-%d %H:%M:%S,%e] [%P] [%*]: %v";

/// mode's `DEFAULT_COLOR_FORMAT` as an spdlog pattern, used for the stderr
/// stream: like default_format without the colon, the message coloured by
/// level (DEBUG blue, INFO white, WARNING yellow, ERROR red, CRITICAL bold red)
/// when stderr is a terminal.
inline constexpr std::string_view default_color_format = "[%Y-%m-%d %H:%M:%S,%e] [%P] [%*] %^%v%$";

/// An spdlog pattern formatter that also knows `%*` (the Python level name),
/// ending each record with `eol` (default "\n").
std::unique_ptr<spdlog::formatter> make_formatter(std::string_view pattern,
                                                  std::string_view eol = "\n");

/// What setup_logging() configures; mode's `setup_logging` keywords.
struct LoggingOptions {
  /// mode's `loglevel`: a level name or number as level_number() accepts.
  /// Default "WARNING" (Python's root level when mode gets no level; mode's
  /// Worker passes "INFO").
  std::string log_level = "WARNING";

  /// mode's `logfile`: the file to append to, in default_format. Empty (the
  /// default): write to stderr in default_color_format. (mode writes to stdout;
  /// stderr keeps stdout free for the program and for StdoutRedirect.)
  std::string log_file{};

  /// mode's `loghandlers`: extra sinks that receive every record. Each keeps
  /// its own pattern and level. Default none.
  std::vector<spdlog::sink_ptr> log_handlers{};

  /// mode's `logging_config`, as spdlog's SPDLOG_LEVEL syntax: comma separated
  /// `level` (every logger) or `logger=level` entries, e.g.
  /// "info,mode.redirect=debug", applied after `log_level`. Levels as
  /// want_level(std::string_view) accepts. Default empty (nothing to apply).
  std::string logging_config{};

  /// How the log file (or stderr) gets its records: "text" (the default: mode's
  /// default_format, coloured on a terminal) or "json" (one JSON object per line,
  /// mode/json_log.hpp, never coloured). Port addition. `log_handlers` keep their own
  /// formats.
  std::string log_format = "text";
};

/// mode's `setup_logging`: points the root sink at the log file (or at
/// stderr, coloured when it is a terminal) plus `log_handlers`, sets the level
/// of every registered logger and of loggers created later, applies
/// `logging_config`, and routes spdlog's default logger through the root sink.
/// Returns the numeric level of `log_level`. Every record is flushed at once
/// (as Python's handlers do). Loggers that someone created with their own
/// sinks keep those sinks (mode: `disable_existing_loggers=False`) but get the
/// new level. Validates everything first: a bad level or config throws
/// std::invalid_argument, a log file that cannot be opened throws
/// std::runtime_error naming the path, and in both cases nothing changed.
/// Call it at startup: replacing spdlog's default logger races with threads
/// that use it at the same moment (an spdlog limitation).
int setup_logging(const LoggingOptions& options = {});

/// A sink for tests and tools that keeps the last `capacity` records (default
/// 1024), formatted with `pattern` (default "%v", the bare message; `%*` is
/// the Python level name), without a line ending. Read them with
/// `last_formatted()`.
std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> make_capture_sink(
    std::size_t capacity = 1024, std::string_view pattern = "%v");

// -- redirecting std::cout and std::cerr ------------------------------------------

/// mode's `redirect_stdouts`: while alive, routes what the program writes to
/// std::cout (and std::cerr/std::clog) into `logger` at `severity`, one record
/// per line with surrounding whitespace stripped and empty lines dropped.
/// Partial lines wait for their newline (flushing does not split a line); the
/// rest is logged on destruction, which also restores the original buffers.
/// Thread-safe. A sink that itself writes to std::cout/std::cerr does not
/// loop: writes made while logging go to the original buffer. Only C++ streams
/// are redirected, not C stdio (printf). Nest instances LIFO only, and destroy
/// one only when no other thread is writing to the streams.
class StdoutRedirect {
 public:
  /// Redirects the chosen streams. Defaults as mode's: the "mode.redirect"
  /// logger, severity WARNING, both streams.
  explicit StdoutRedirect(std::shared_ptr<spdlog::logger> logger = get_logger("mode.redirect"),
                          Severity severity = Severity::warning, bool redirect_stdout = true,
                          bool redirect_stderr = true);

  /// Logs any unfinished line and restores the original stream buffers.
  ~StdoutRedirect();

  /// Not copyable: one redirection, restored once.
  StdoutRedirect(const StdoutRedirect&) = delete;
  /// Not copyable.
  StdoutRedirect& operator=(const StdoutRedirect&) = delete;

  /// The severity the redirected lines are logged at.
  Severity severity() const noexcept { return severity_; }

 private:
  class line_buf;

  Severity severity_;
  std::unique_ptr<line_buf> out_;
  std::unique_ptr<line_buf> err_;
  std::streambuf* old_cout_ = nullptr;
  std::streambuf* old_cerr_ = nullptr;
  std::streambuf* old_clog_ = nullptr;
};

// -- Logwrapped ---------------------------------------------------------------

namespace detail {

/// Python's repr for a call argument: strings single-quoted, the rest as fmt
/// prints them, "<?>" for what fmt cannot print.
template <class T>
std::string call_arg_repr(const T& x) {
  using U = std::remove_cvref_t<T>;
  if constexpr (std::is_convertible_v<const U&, std::string_view>) {
    return fmt::format("'{}'", std::string_view{x});
  } else if constexpr (std::is_same_v<U, bool>) {
    return x ? "True" : "False";
  } else if constexpr (fmt::is_formattable<U>::value) {
    return fmt::format("{}", x);
  } else {
    return "<?>";
  }
}

}  // namespace detail

/// Something to log through: a logger, a flight_recorder, anything.
using log_function = std::function<void(Severity, std::string_view)>;

/// mode's `Logwrapped`: calls made through it are logged, as
/// `<ident>name(arg, ...)`, before they run. Python wraps every method of an
/// object; C++ names the call: `w.call("get", &Redis::get, key)` logs
/// "get('user')" and returns `redis.get(key)`. `*w` and `w->` reach the object
/// without logging (mode: attributes pass through). Holds a reference: the
/// object must outlive the wrapper.
template <class T>
class Logwrapped {
 public:
  /// Wraps `obj`, logging through `log` at `severity` (mode's default
  /// WARNING) with `ident` before each call name (default none).
  Logwrapped(T& obj, log_function log, Severity severity = Severity::warning,
             std::string ident = {})
      : obj_(&obj), log_(std::move(log)), severity_(severity), ident_(std::move(ident)) {}

  /// Wraps `obj`, logging to `logger`.
  Logwrapped(T& obj, std::shared_ptr<spdlog::logger> logger, Severity severity = Severity::warning,
             std::string ident = {})
      : Logwrapped(
            obj,
            [lg = std::move(logger)](Severity s, std::string_view msg) {
              lg->log(want_level(s), spdlog::string_view_t{msg.data(), msg.size()});
            },
            severity, std::move(ident)) {}

  // -- calls ------------------------------------------------------------------

  /// Logs `<ident>name(args...)` then returns `std::invoke(fn, obj, args...)`.
  template <class F, class... Args>
  decltype(auto) call(std::string_view name, F&& fn, Args&&... args) {
    std::string line = ident_;
    line += name;
    line += '(';
    [[maybe_unused]] bool first = true;
    ((line += (first ? "" : ", "), line += detail::call_arg_repr(args), first = false), ...);
    line += ')';
    log_(severity_, line);
    return std::invoke(std::forward<F>(fn), *obj_, std::forward<Args>(args)...);
  }

  // -- observers --------------------------------------------------------------

  /// The wrapped object, unlogged.
  T& operator*() const noexcept { return *obj_; }

  /// The wrapped object's members, unlogged.
  T* operator->() const noexcept { return obj_; }

  /// The severity calls are logged at.
  Severity severity() const noexcept { return severity_; }

 private:
  T* obj_;
  log_function log_;
  Severity severity_;
  std::string ident_;
};

}  // namespace mode
