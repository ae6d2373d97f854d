// Shared helpers for the benchmark programs: every benchmark is a plain main that
// prints one JSON object per line on stdout (machine-readable; `jq` friendly), with
// its raw-CAF baseline measured in the same run.
//
// What is here: JSON-line output (json_line), timing (stopwatch, time_us), summary
// statistics over repetitions (summarize), resident memory (rss_bytes,
// release_free_memory), the common command line (--quick, --filter, --impl, --reps, --threads), a
// `meta` line describing the machine, and waiting for a CAF system's actors to end.
#pragma once

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

namespace mode::bench {

// -- JSON lines ---------------------------------------------------------------------

/// `text` as a JSON string literal (quoted, with `"`, `\` and control characters
/// escaped).
inline std::string json_quote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(static_cast<unsigned char>(c)));
        else
          out += c;
    }
  }
  out += '"';
  return out;
}

/// One JSON object printed on one line: `{"bench":"name","key":value,...}`. Keys keep
/// the order they were added in. Doubles print with 6 significant digits; NaN and
/// infinities print as null (JSON has no such numbers).
class json_line {
 public:
  /// Starts an object whose first member is `"bench": name`.
  explicit json_line(std::string_view bench) { add("bench", bench); }

  json_line& add(std::string_view key, std::string_view value) {
    return raw(key, json_quote(value));
  }
  json_line& add(std::string_view key, const char* value) {
    return add(key, std::string_view{value});
  }
  json_line& add(std::string_view key, const std::string& value) {
    return add(key, std::string_view{value});
  }
  json_line& add(std::string_view key, bool value) { return raw(key, value ? "true" : "false"); }
  template <class T>
  requires std::integral<T> &&
      (!std::same_as<T, bool>)json_line& add(std::string_view key, T value) {
    return raw(key, fmt::format("{}", value));
  }
  json_line& add(std::string_view key, double value) {
    if (value != value || value - value != 0.0)  // NaN or +-inf
      return raw(key, "null");
    return raw(key, fmt::format("{:.6g}", value));
  }
  /// Adds `value` as already-rendered JSON (an object, an array, null).
  json_line& raw(std::string_view key, std::string_view json) {
    body_ += body_.empty() ? "{" : ",";
    body_ += json_quote(key);
    body_ += ':';
    body_ += json;
    return *this;
  }

  /// The object as one line of text (no newline).
  [[nodiscard]] std::string str() const { return body_ + "}"; }

  /// Writes the line and a newline to stdout and flushes, so a consumer reading a
  /// pipe sees each result as soon as it is measured.
  void print() const {
    auto line = str();
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }

 private:
  std::string body_;
};

// -- timing --------------------------------------------------------------------------

using bench_clock = std::chrono::steady_clock;

/// Measures wall-clock time from construction (or the last restart()).
class stopwatch {
 public:
  stopwatch() : start_(bench_clock::now()) {}
  void restart() { start_ = bench_clock::now(); }
  /// Microseconds since construction or the last restart().
  [[nodiscard]] double elapsed_us() const {
    return std::chrono::duration<double, std::micro>(bench_clock::now() - start_).count();
  }

 private:
  bench_clock::time_point start_;
};

/// Runs `fn` once and returns how long it took, in microseconds.
template <class F>
double time_us(F&& fn) {
  stopwatch sw;
  std::forward<F>(fn)();
  return sw.elapsed_us();
}

/// Median, minimum, mean and maximum of a set of samples.
struct summary {
  double median = 0;
  double min = 0;
  double mean = 0;
  double max = 0;
  std::size_t n = 0;
};

/// Summarises `samples` (all zero for an empty set).
inline summary summarize(std::vector<double> samples) {
  summary s;
  s.n = samples.size();
  if (samples.empty())
    return s;
  std::sort(samples.begin(), samples.end());
  auto mid = samples.size() / 2;
  s.median = samples.size() % 2 == 1 ? samples[mid] : (samples[mid - 1] + samples[mid]) / 2;
  s.min = samples.front();
  s.max = samples.back();
  s.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(s.n);
  return s;
}

/// Adds `<prefix>_median` and `<prefix>_min` of `s`, each divided by `divisor`
/// (e.g. the number of services, to get a per-service figure).
inline json_line& add_summary(json_line& line, std::string_view prefix, const summary& s,
                              double divisor = 1.0) {
  line.add(fmt::format("{}_median", prefix), s.median / divisor);
  line.add(fmt::format("{}_min", prefix), s.min / divisor);
  return line;
}

/// ours / baseline, or NaN (printed as null) when the baseline is zero.
inline double ratio(double ours, double baseline) {
  return baseline > 0 ? ours / baseline : std::numeric_limits<double>::quiet_NaN();
}

// -- memory ------------------------------------------------------------------------------

/// The process's resident set size in bytes, from /proc/self/statm (resident pages
/// times the page size). Throws std::runtime_error naming the file if it cannot be read.
inline std::size_t rss_bytes() {
  std::ifstream in{"/proc/self/statm"};
  std::size_t size_pages = 0;
  std::size_t resident_pages = 0;
  if (!(in >> size_pages >> resident_pages))
    throw std::runtime_error("cannot read resident pages from '/proc/self/statm'");
  return resident_pages * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

/// Gives freed heap memory back to the OS (glibc's malloc_trim), so that an RSS
/// delta measured afterwards counts new allocations rather than reused free lists.
inline void release_free_memory() {
#if defined(__GLIBC__)
  ::malloc_trim(0);
#endif
}

/// Runs `fn` (returning a double) in a forked child process and returns its result.
/// Each memory measurement then starts from the same clean heap, instead of one
/// whose free lists earlier measurements filled (reused holes hide new allocations
/// from RSS). Call it only while this process runs no other threads (before any
/// actor_system exists): a forked child gets only the calling thread. An exception
/// in the child comes back as a std::runtime_error with its what().
template <class F>
double run_isolated(F&& fn) {
  std::array<int, 2> fds{};
  if (::pipe(fds.data()) != 0)
    throw std::runtime_error(fmt::format("pipe() failed: {}", std::strerror(errno)));
  std::fflush(stdout);
  std::fflush(stderr);
  auto pid = ::fork();
  if (pid < 0)
    throw std::runtime_error(fmt::format("fork() failed: {}", std::strerror(errno)));
  if (pid == 0) {
    ::close(fds[0]);
    std::string reply;
    int status = 0;
    try {
      reply = fmt::format("ok {:.17g}", std::forward<F>(fn)());
    } catch (const std::exception& e) {
      reply = fmt::format("error {}", e.what());
      status = 1;
    } catch (...) {
      reply = "error unknown exception";
      status = 1;
    }
    auto written = ::write(fds[1], reply.data(), reply.size());
    ::close(fds[1]);
    std::fflush(stdout);
    ::_exit(written == static_cast<ssize_t>(reply.size()) ? status : 2);
  }
  ::close(fds[1]);
  std::string reply;
  std::array<char, 512> buf{};
  for (ssize_t n = 0; (n = ::read(fds[0], buf.data(), buf.size())) != 0;) {
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      break;
    reply.append(buf.data(), static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (reply.starts_with("ok "))
    return std::stod(reply.substr(3));
  if (reply.starts_with("error "))
    throw std::runtime_error(reply.substr(6));
  throw std::runtime_error(
      fmt::format("isolated run died without a result (wait status {})", status));
}

// -- command line --------------------------------------------------------------------------

/// The options every benchmark program understands.
struct options {
  /// --quick: small sizes and few repetitions (CI checks that the program runs).
  bool quick = false;
  /// --filter NAME: run only the benchmarks whose name contains NAME. Default: all.
  std::string filter;
  /// --impl NAME: run only implementation NAME ("mode", or a baseline such as
  /// "caf-ordered"), e.g. to profile one side alone. Default: all, with ratios.
  std::string impl;
  /// --reps N: repetitions per measurement; 0 (the default) means the program's own.
  int reps = 0;
  /// --threads N: CAF scheduler threads; 0 (the default) leaves CAF's own default,
  /// max(4, cores) in CAF 0.17.6.
  int threads = 0;
  /// --help: print the usage and exit.
  bool help = false;

  /// True if benchmark `name` passes the filter.
  [[nodiscard]] bool wants(std::string_view name) const {
    return filter.empty() || name.find(filter) != std::string_view::npos;
  }
  /// True if implementation `name` passes --impl.
  [[nodiscard]] bool wants_impl(std::string_view name) const {
    return impl.empty() || impl == name;
  }
  /// The number of repetitions: --reps if given, else `quick_default` or `default_reps`.
  [[nodiscard]] int repetitions(int default_reps, int quick_default) const {
    if (reps > 0)
      return reps;
    return quick ? quick_default : default_reps;
  }
};

/// The usage text for options.
inline constexpr std::string_view options_usage =
    "  --quick        small sizes, few repetitions (checks that it runs)\n"
    "  --filter NAME  run only benchmarks whose name contains NAME\n"
    "  --impl NAME    run only implementation NAME (mode, or a baseline), no ratios\n"
    "  --reps N       repetitions per measurement (N >= 1)\n"
    "  --threads N    CAF scheduler threads (default: CAF's, max(4, cores))\n"
    "  --help         this text\n";

/// Parses the command line. Throws std::invalid_argument quoting the bad argument
/// for an unknown option, a missing value or a bad number.
inline options parse_options(int argc, char** argv) {
  options opts;
  auto value_of = [&](int& i, std::string_view arg, std::string_view name) -> std::string {
    // Accepts both "--name value" and "--name=value".
    if (arg.size() > name.size() && arg[name.size()] == '=')
      return std::string{arg.substr(name.size() + 1)};
    if (i + 1 >= argc)
      throw std::invalid_argument(fmt::format("option '{}' needs a value", arg));
    return argv[++i];
  };
  auto is = [](std::string_view arg, std::string_view name) {
    return arg == name ||
           (arg.starts_with(name) && arg.size() > name.size() && arg[name.size()] == '=');
  };
  auto positive_int = [](std::string_view name, const std::string& text) {
    std::size_t used = 0;
    int n = 0;
    try {
      n = std::stoi(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != text.size() || text.empty() || n < 1)
      throw std::invalid_argument(
          fmt::format("option '{}' wants a whole number >= 1, got '{}'", name, text));
    return n;
  };
  for (int i = 1; i < argc; ++i) {
    std::string_view arg{argv[i]};
    if (arg == "--quick") {
      opts.quick = true;
    } else if (arg == "--help" || arg == "-h") {
      opts.help = true;
    } else if (is(arg, "--filter")) {
      opts.filter = value_of(i, arg, "--filter");
      if (opts.filter.empty())
        throw std::invalid_argument("option '--filter' needs a name");
    } else if (is(arg, "--impl")) {
      opts.impl = value_of(i, arg, "--impl");
      if (opts.impl.empty())
        throw std::invalid_argument("option '--impl' needs a name");
    } else if (is(arg, "--reps")) {
      opts.reps = positive_int("--reps", value_of(i, arg, "--reps"));
    } else if (is(arg, "--threads")) {
      opts.threads = positive_int("--threads", value_of(i, arg, "--threads"));
    } else {
      throw std::invalid_argument(fmt::format("unknown option '{}'", arg));
    }
  }
  return opts;
}

// -- machine ---------------------------------------------------------------------------------

/// The first line of /proc/loadavg ("1.00 0.50 0.25 1/123 4567"), or "" if unreadable.
inline std::string load_average() {
  std::ifstream in{"/proc/loadavg"};
  std::string line;
  std::getline(in, line);
  return line;
}

/// A `meta` line: cores, load average, compiler, whether optimised, and the
/// options, so that figures can be read against the machine they came from.
inline json_line meta_line(std::string_view program, const options& opts) {
  json_line line{"meta"};
  line.add("program", program);
  line.add("cores", static_cast<unsigned>(std::thread::hardware_concurrency()));
  line.add("loadavg", load_average());
  line.add("compiler", std::string_view{__VERSION__});
#if defined(__OPTIMIZE__)
  line.add("optimized", true);
#else
  line.add("optimized", false);
#endif
#if defined(NDEBUG)
  line.add("ndebug", true);
#else
  line.add("ndebug", false);
#endif
  line.add("quick", opts.quick);
  line.add("filter", opts.filter);
  line.add("impl", opts.impl);
  line.add("threads_option", opts.threads);
  return line;
}

// -- CAF --------------------------------------------------------------------------------------

/// Applies the options that concern CAF (--threads) to `cfg`; returns `cfg`.
inline caf::actor_system_config& configure(caf::actor_system_config& cfg, const options& opts) {
  if (opts.threads > 0)
    cfg.set("scheduler.max-threads", opts.threads);
  return cfg;
}

/// Waits until at most `count` actors of `sys` are running (e.g. the count before a
/// tree was spawned, once it was dropped). A scoped_actor counts as running in CAF
/// 0.17.6 even when created hidden. Unlike actor_system::await_all_actors_done it gives up after
/// `timeout` with a std::runtime_error, so a leak fails the run instead of hanging it.
inline void await_running_at_most(caf::actor_system& sys, std::size_t count,
                                  std::chrono::milliseconds timeout = std::chrono::seconds{60}) {
  auto deadline = bench_clock::now() + timeout;
  auto sleep = std::chrono::microseconds{20};
  while (sys.registry().running() > count) {
    if (bench_clock::now() > deadline)
      throw std::runtime_error(fmt::format("{} actors still running after {} ms (wanted <= {})",
                                           sys.registry().running(), timeout.count(), count));
    std::this_thread::sleep_for(sleep);
    sleep = std::min(sleep * 2, std::chrono::microseconds{100});
  }
}

/// The main() of a benchmark program: parses the options, prints `help` (plus the
/// common options) for --help, runs `run(opts)`, and turns an exception into a message
/// naming the program and exit status 1.
template <class Run>
int bench_main(int argc, char** argv, std::string_view program, std::string_view help, Run run) {
  try {
    auto opts = parse_options(argc, argv);
    if (opts.help) {
      std::printf("usage: %.*s [options]\n%.*s%s", static_cast<int>(program.size()), program.data(),
                  static_cast<int>(help.size()), help.data(), std::string{options_usage}.c_str());
      return 0;
    }
    return run(opts);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%.*s: %s\n", static_cast<int>(program.size()), program.data(), e.what());
    return 1;
  }
}

}  // namespace mode::bench
