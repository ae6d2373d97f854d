#include "mode/logging.hpp"

#include "mode/json_log.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <streambuf>
#include <string>

#include <spdlog/cfg/helpers.h>
#include <spdlog/details/registry.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/dist_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace mode {

namespace {

// -- level names ----------------------------------------------------------------

std::string lower(std::string_view text) {
  std::string result{text};
  std::transform(result.begin(), result.end(), result.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return result;
}

// Python's level names (logging._nameToLevel), lower-cased.
const std::map<std::string, int, std::less<>>& python_levels() {
  static const std::map<std::string, int, std::less<>> levels{
      {"notset", 0},   {"debug", 10}, {"info", 20},     {"warn", 30},
      {"warning", 30}, {"error", 40}, {"critical", 50}, {"fatal", 50},
  };
  return levels;
}

// A level given as a name or a decimal number; nullopt if it is neither.
std::optional<int> parse_level(std::string_view level) {
  auto key = lower(level);
  if (auto i = python_levels().find(key); i != python_levels().end())
    return i->second;
  int number = 0;
  auto first = level.data();
  auto last = level.data() + level.size();
  auto [end, ec] = std::from_chars(first, last, number);
  if (level.empty() || ec != std::errc{} || end != last || number < 0)
    return std::nullopt;
  return number;
}

[[noreturn]] void bad_level(std::string_view level) {
  throw std::invalid_argument(
      fmt::format("invalid log level '{}': expected a name (debug, info, warn, warning, error, "
                  "critical, fatal, "
                  "notset) or a number such as 20",
                  level));
}

// -- formatting -------------------------------------------------------------------

// `%*`: the Python level name, as mode's formats print %(levelname)s.
class python_level_flag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    auto name = level_name(msg.level);
    dest.append(name.data(), name.data() + name.size());
  }

  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<python_level_flag>();
  }
};

// -- the root sink ----------------------------------------------------------------

// Python's root handlers: every logger from get_logger writes here, and
// setup_logging swaps the sinks inside under the sink's mutex. It ignores
// patterns pushed down by logger::set_formatter (spdlog's registry does that
// to each new logger), so that each inner sink keeps its own format.
class root_sink final : public spdlog::sinks::dist_sink<std::mutex> {
 public:
  using dist_sink::dist_sink;

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    dist_sink::sink_it_(msg);
    // Python's handlers flush every record; a crash then loses nothing.
    dist_sink::flush_();
  }

  void set_pattern_(const std::string&) override {}

  void set_formatter_(std::unique_ptr<spdlog::formatter>) override {}
};

// Python's "last resort" handler: WARNING and above, bare message, stderr.
spdlog::sink_ptr last_resort_sink() {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  sink->set_formatter(make_formatter("%v"));
  sink->set_level(spdlog::level::warn);
  return sink;
}

const std::shared_ptr<root_sink>& the_root_sink() {
  static const auto sink =
      std::make_shared<root_sink>(std::vector<spdlog::sink_ptr>{last_resort_sink()});
  return sink;
}

std::mutex& get_logger_mutex() {
  static std::mutex mtx;
  return mtx;
}

bool uses_only_root(const spdlog::logger& logger) {
  const auto& sinks = logger.sinks();
  return sinks.size() == 1 && sinks.front() == the_root_sink();
}

// Checks a SPDLOG_LEVEL style config and returns it with spdlog's level names.
std::string normalized_config(std::string_view config) {
  std::string result;
  std::size_t pos = 0;
  auto trim = [](std::string_view s) {
    auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos)
      return std::string_view{};
    auto e = s.find_last_not_of(" \t\r\n");
    return s.substr(b, e - b + 1);
  };
  while (pos <= config.size()) {
    auto comma = config.find(',', pos);
    if (comma == std::string_view::npos)
      comma = config.size();
    auto entry = trim(config.substr(pos, comma - pos));
    pos = comma + 1;
    if (entry.empty())
      continue;
    std::string_view name;
    auto level_text = entry;
    if (auto eq = entry.find('='); eq != std::string_view::npos) {
      name = trim(entry.substr(0, eq));
      level_text = trim(entry.substr(eq + 1));
      if (name.empty())
        throw std::invalid_argument(fmt::format(
            "invalid logging_config '{}': entry '{}' has no logger name", config, entry));
    }
    spdlog::level::level_enum level;
    try {
      level = want_level(level_text);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(fmt::format("invalid logging_config '{}': {}", config, e.what()));
    }
    if (!result.empty())
      result += ',';
    if (!name.empty()) {
      result += name;
      result += '=';
    }
    auto spd_name = spdlog::level::to_string_view(level);
    result.append(spd_name.data(), spd_name.size());
  }
  // spdlog's load_levels silently ignores longer input.
  if (result.size() > 512)
    throw std::invalid_argument(fmt::format(
        "invalid logging_config '{}': longer than spdlog's limit of 512 characters", config));
  return result;
}

}  // namespace

// -- levels -----------------------------------------------------------------------

int level_number(std::string_view level) {
  if (auto number = parse_level(level))
    return *number;
  bad_level(level);
}

int level_number(int level) {
  if (level < 0)
    bad_level(std::to_string(level));
  return level;
}

std::string level_name(int level) {
  switch (level) {
    case 0:
      return "NOTSET";
    case 10:
      return "DEBUG";
    case 20:
      return "INFO";
    case 30:
      return "WARNING";
    case 40:
      return "ERROR";
    case 50:
      return "CRITICAL";
    default:
      return fmt::format("Level {}", level);
  }
}

std::string_view level_name(spdlog::level::level_enum level) noexcept {
  switch (level) {
    case spdlog::level::trace:
      return "TRACE";
    case spdlog::level::debug:
      return "DEBUG";
    case spdlog::level::info:
      return "INFO";
    case spdlog::level::warn:
      return "WARNING";
    case spdlog::level::err:
      return "ERROR";
    case spdlog::level::critical:
      return "CRITICAL";
    default:
      return "OFF";
  }
}

spdlog::level::level_enum want_level(int level) {
  level_number(level);
  if (level < 10)
    return spdlog::level::trace;
  if (level < 20)
    return spdlog::level::debug;
  if (level < 30)
    return spdlog::level::info;
  if (level < 40)
    return spdlog::level::warn;
  if (level < 50)
    return spdlog::level::err;
  return spdlog::level::critical;
}

spdlog::level::level_enum want_level(Severity severity) {
  return want_level(static_cast<int>(severity));
}

spdlog::level::level_enum want_level(std::string_view level) {
  auto key = lower(level);
  if (key == "trace")
    return spdlog::level::trace;
  if (key == "err")
    return spdlog::level::err;
  if (key == "off")
    return spdlog::level::off;
  if (auto number = parse_level(level))
    return want_level(*number);
  bad_level(level);
}

// -- loggers ------------------------------------------------------------------------

std::shared_ptr<spdlog::logger> get_logger(std::string_view name) {
  std::string key{name};
  // spdlog::get and register are each atomic, not the pair: serialize creators.
  std::lock_guard<std::mutex> guard{get_logger_mutex()};
  if (auto existing = spdlog::get(key))
    return existing;
  auto logger = std::make_shared<spdlog::logger>(key, the_root_sink());
  // Applies the registry's level (and per-name level from logging_config).
  spdlog::initialize_logger(logger);
  if (!spdlog::get(key))  // automatic registration may be switched off
    spdlog::register_logger(logger);
  return logger;
}

std::unique_ptr<spdlog::formatter> make_formatter(std::string_view pattern, std::string_view eol) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::local,
                                                               std::string{eol});
  formatter->add_flag<python_level_flag>('*').set_pattern(std::string{pattern});
  return formatter;
}

int setup_logging(const LoggingOptions& options) {
  // Validate and open everything first so that a failure changes nothing.
  auto number = level_number(options.log_level);
  auto level = want_level(number);
  auto config = normalized_config(options.logging_config);
  if (options.log_format != "text" && options.log_format != "json")
    throw std::invalid_argument(
        fmt::format("unknown log format '{}' (expected text or json)", options.log_format));
  const bool json = options.log_format == "json";
  std::vector<spdlog::sink_ptr> sinks;
  if (!options.log_file.empty()) {
    std::shared_ptr<spdlog::sinks::basic_file_sink_mt> file;
    try {
      file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.log_file, false);
    } catch (const spdlog::spdlog_ex& e) {
      throw std::runtime_error(
          fmt::format("cannot open log file '{}': {}", options.log_file, e.what()));
    }
    file->set_formatter(json ? make_json_formatter() : make_formatter(default_format));
    sinks.push_back(std::move(file));
  } else if (json) {
    auto stream = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    stream->set_formatter(make_json_formatter());
    sinks.push_back(std::move(stream));
  } else {
    auto stream =
        std::make_shared<spdlog::sinks::stderr_color_sink_mt>(spdlog::color_mode::automatic);
    stream->set_formatter(make_formatter(default_color_format));
    // colorlog's colours as mode sets them.
    stream->set_color(spdlog::level::trace, stream->blue);
    stream->set_color(spdlog::level::debug, stream->blue);
    stream->set_color(spdlog::level::info, stream->white);
    stream->set_color(spdlog::level::warn, stream->yellow);
    stream->set_color(spdlog::level::err, stream->red);
    stream->set_color(spdlog::level::critical, stream->red_bold);
    sinks.push_back(std::move(stream));
  }
  sinks.insert(sinks.end(), options.log_handlers.begin(), options.log_handlers.end());

  auto& root = the_root_sink();
  root->set_sinks(std::move(sinks));
  {
    std::lock_guard<std::mutex> guard{get_logger_mutex()};
    auto current = spdlog::default_logger();
    if (!current || !uses_only_root(*current)) {
      auto fresh = std::make_shared<spdlog::logger>(current ? current->name() : "", root);
      spdlog::set_default_logger(std::move(fresh));
    }
  }
  // Sets every registered logger and the level for later ones, and forgets
  // per-logger levels from an earlier logging_config.
  spdlog::details::registry::instance().set_levels({}, &level);
  if (!config.empty())
    spdlog::cfg::helpers::load_levels(config);
  return number;
}

std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> make_capture_sink(std::size_t capacity,
                                                                     std::string_view pattern) {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(capacity);
  sink->set_formatter(make_formatter(pattern, ""));
  return sink;
}

// -- StdoutRedirect ---------------------------------------------------------------------

// A streambuf without a put area: every write reaches xsputn/overflow, which
// collect text under a mutex and log each completed line outside of it.
class StdoutRedirect::line_buf final : public std::streambuf {
 public:
  line_buf(std::shared_ptr<spdlog::logger> logger, spdlog::level::level_enum level,
           std::streambuf* original)
      : logger_(std::move(logger)), level_(level), original_(original) {}

  // Logs the unfinished line, if any.
  void finish() {
    std::string rest;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      rest.swap(pending_);
    }
    emit(rest);
  }

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    if (in_log_) {
      // A sink writing to the redirected stream: hand it the real one.
      return original_ ? original_->sputn(s, n) : n;
    }
    std::vector<std::string> lines;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      pending_.append(s, static_cast<std::size_t>(n));
      std::size_t start = 0;
      for (auto nl = pending_.find('\n'); nl != std::string::npos;
           nl = pending_.find('\n', start)) {
        lines.emplace_back(pending_, start, nl - start);
        start = nl + 1;
      }
      pending_.erase(0, start);
    }
    for (auto& line : lines)
      emit(line);
    return n;
  }

  int_type overflow(int_type ch) override {
    if (traits_type::eq_int_type(ch, traits_type::eof()))
      return traits_type::not_eof(ch);
    char c = traits_type::to_char_type(ch);
    xsputn(&c, 1);
    return ch;
  }

  // Flushing never ends a line: std::cerr flushes after every <<.
  int sync() override { return 0; }

 private:
  void emit(std::string_view line) {
    auto b = line.find_first_not_of(" \t\r\n\f\v");
    if (b == std::string_view::npos)
      return;
    auto e = line.find_last_not_of(" \t\r\n\f\v");
    line = line.substr(b, e - b + 1);
    in_log_ = true;
    try {
      logger_->log(level_, spdlog::string_view_t{line.data(), line.size()});
    } catch (...) {
      // A stream write must not throw through the program's output code.
    }
    in_log_ = false;
  }

  static thread_local bool in_log_;

  std::shared_ptr<spdlog::logger> logger_;
  spdlog::level::level_enum level_;
  std::streambuf* original_;
  std::mutex mtx_;
  std::string pending_;
};

thread_local bool StdoutRedirect::line_buf::in_log_ = false;

StdoutRedirect::StdoutRedirect(std::shared_ptr<spdlog::logger> logger, Severity severity,
                               bool redirect_stdout, bool redirect_stderr)
    : severity_(severity) {
  if (!logger)
    throw std::invalid_argument("StdoutRedirect: logger is null");
  auto level = want_level(severity);
  if (redirect_stdout) {
    out_ = std::make_unique<line_buf>(logger, level, std::cout.rdbuf());
    old_cout_ = std::cout.rdbuf(out_.get());
  }
  if (redirect_stderr) {
    err_ = std::make_unique<line_buf>(logger, level, std::cerr.rdbuf());
    old_cerr_ = std::cerr.rdbuf(err_.get());
    old_clog_ = std::clog.rdbuf(err_.get());
  }
}

StdoutRedirect::~StdoutRedirect() {
  if (out_) {
    std::cout.rdbuf(old_cout_);
    out_->finish();
  }
  if (err_) {
    std::cerr.rdbuf(old_cerr_);
    std::clog.rdbuf(old_clog_);
    err_->finish();
  }
}

}  // namespace mode
