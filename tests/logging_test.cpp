// Logging helpers: levels, get_logger, setup_logging, StdoutRedirect.
// setup_logging changes process-wide state; each case that calls it restores
// mode's defaults (stderr, WARNING) before it ends.
#include "mode/logging.hpp"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

namespace {

// Restores mode's default configuration when a case ends, even on failure.
struct restore_logging {
  ~restore_logging() { mode::setup_logging({}); }
};

// A log file in the temp directory, removed at the end; the cases that are not
// about the stream use one to keep the test output quiet.
struct temp_log {
  std::filesystem::path path;
  explicit temp_log(const std::string& tag)
      : path(std::filesystem::temp_directory_path() /
             ("mode-logging-test-" + tag + "-" + std::to_string(::getpid()) + ".log")) {
    std::filesystem::remove(path);
  }
  ~temp_log() { std::filesystem::remove(path); }
};

template <class F>
std::string what_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

std::shared_ptr<spdlog::logger> capture_logger(
    const std::string& name, std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink) {
  auto logger = std::make_shared<spdlog::logger>(name, std::move(sink));
  logger->set_level(spdlog::level::trace);
  return logger;
}

}  // namespace

TEST_CASE("level_number reads Python's level names and numbers" * doctest::timeout(5)) {
  CHECK(mode::level_number("debug") == 10);
  CHECK(mode::level_number("INFO") == 20);
  CHECK(mode::level_number("Warn") == 30);
  CHECK(mode::level_number("warning") == 30);
  CHECK(mode::level_number("error") == 40);
  CHECK(mode::level_number("critical") == 50);
  CHECK(mode::level_number("FATAL") == 50);
  CHECK(mode::level_number("notset") == 0);
  CHECK(mode::level_number("20") == 20);
  CHECK(mode::level_number("25") == 25);
  CHECK(mode::level_number(35) == 35);
  CHECK(mode::level_number(mode::Severity::error) == 40);
  for (const char* bad : {"", "verbose", " info", "20.5", "-10", "1e2", "20x", "99999999999"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(mode::level_number(bad), std::invalid_argument);
    CHECK(what_of([&] { mode::level_number(bad); }).find(std::string{"'"} + bad + "'") !=
          std::string::npos);
  }
  CHECK_THROWS_AS(mode::level_number(-1), std::invalid_argument);
}

TEST_CASE("level names and spdlog levels follow Python's numbers" * doctest::timeout(5)) {
  CHECK(mode::level_name(30) == "WARNING");
  CHECK(mode::level_name(0) == "NOTSET");
  CHECK(mode::level_name(25) == "Level 25");
  CHECK(mode::level_name(spdlog::level::warn) == "WARNING");
  CHECK(mode::level_name(spdlog::level::critical) == "CRITICAL");
  CHECK(mode::want_level(0) == spdlog::level::trace);
  CHECK(mode::want_level(10) == spdlog::level::debug);
  CHECK(mode::want_level(25) == spdlog::level::info);
  CHECK(mode::want_level(30) == spdlog::level::warn);
  CHECK(mode::want_level(45) == spdlog::level::err);
  CHECK(mode::want_level(50) == spdlog::level::critical);
  CHECK(mode::want_level(mode::Severity::warning) == spdlog::level::warn);
  CHECK(mode::want_level("fatal") == spdlog::level::critical);
  CHECK(mode::want_level("40") == spdlog::level::err);
  CHECK(mode::want_level("trace") == spdlog::level::trace);
  CHECK(mode::want_level("OFF") == spdlog::level::off);
  CHECK(what_of([] { mode::want_level("loud"); }).find("'loud'") != std::string::npos);
}

TEST_CASE("make_capture_sink records lines with Python's level names" * doctest::timeout(5)) {
  auto sink = mode::make_capture_sink(2, "[%*] %v");
  auto logger = capture_logger("capture-test", sink);
  logger->debug("one");
  logger->warn("two {}", 2);
  logger->error("three");
  // A ring buffer: the oldest record went.
  CHECK(sink->last_formatted() == std::vector<std::string>{"[WARNING] two 2", "[ERROR] three"});
}

TEST_CASE("get_logger returns one registered logger per name" * doctest::timeout(10)) {
  auto a = mode::get_logger("logging-test.same");
  CHECK(a == mode::get_logger("logging-test.same"));
  CHECK(a == spdlog::get("logging-test.same"));
  CHECK(a != mode::get_logger("logging-test.other"));
  CHECK(a->name() == "logging-test.same");
  // Racing first uses agree on one logger.
  std::vector<std::shared_ptr<spdlog::logger>> seen(8);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < seen.size(); ++i)
    threads.emplace_back([&seen, i] { seen[i] = mode::get_logger("logging-test.race"); });
  for (auto& t : threads)
    t.join();
  for (auto& s : seen)
    CHECK(s == seen.front());
}

TEST_CASE("setup_logging routes loggers to extra sinks at the chosen level" *
          doctest::timeout(10)) {
  temp_log file{"routes"};
  restore_logging restore;
  auto early = mode::get_logger("logging-test.early");
  auto sink = mode::make_capture_sink(64, "%* %n %v");
  mode::LoggingOptions options;
  options.log_file = file.path.string();
  options.log_level = "info";
  options.log_handlers = {sink};
  CHECK(mode::setup_logging(options) == 20);
  auto late = mode::get_logger("logging-test.late");
  early->debug("hidden");
  early->info("from early");
  late->info("from late");
  spdlog::warn("from the default logger");
  CHECK(sink->last_formatted() == std::vector<std::string>{"INFO logging-test.early from early",
                                                           "INFO logging-test.late from late",
                                                           "WARNING  from the default logger"});
  CHECK(early->level() == spdlog::level::info);
  CHECK(late->level() == spdlog::level::info);
  // A second setup re-points the same loggers and drops the old sink.
  auto second = mode::make_capture_sink(64, "%v");
  options.log_level = "10";
  options.log_handlers = {second};
  CHECK(mode::setup_logging(options) == 10);
  early->debug("now visible");
  CHECK(second->last_formatted() == std::vector<std::string>{"now visible"});
  CHECK(sink->last_formatted().size() == 3);
}

TEST_CASE("setup_logging applies logging_config per logger" * doctest::timeout(10)) {
  temp_log file{"config"};
  restore_logging restore;
  auto chatty = mode::get_logger("logging-test.chatty");
  auto sink = mode::make_capture_sink(64, "%n %v");
  mode::LoggingOptions options;
  options.log_file = file.path.string();
  options.log_level = "WARNING";
  options.log_handlers = {sink};
  options.logging_config = " logging-test.chatty = debug , logging-test.later=error,";
  CHECK(mode::setup_logging(options) == 30);
  CHECK(chatty->level() == spdlog::level::debug);
  // Loggers created afterwards get their configured level too.
  auto later = mode::get_logger("logging-test.later");
  CHECK(later->level() == spdlog::level::err);
  CHECK(mode::get_logger("logging-test.plain")->level() == spdlog::level::warn);
  chatty->debug("debug line");
  later->warn("dropped");
  CHECK(sink->last_formatted() == std::vector<std::string>{"logging-test.chatty debug line"});
  // A global entry overrides log_level; a new setup forgets old entries.
  options.logging_config = "20";
  mode::setup_logging(options);
  CHECK(chatty->level() == spdlog::level::info);
  CHECK(mode::get_logger("logging-test.fresh")->level() == spdlog::level::info);
}

TEST_CASE("setup_logging rejects bad input and changes nothing" * doctest::timeout(10)) {
  temp_log file{"unchanged"};
  restore_logging restore;
  auto sink = mode::make_capture_sink(64, "%v");
  mode::LoggingOptions good;
  good.log_file = file.path.string();
  good.log_level = "info";
  good.log_handlers = {sink};
  mode::setup_logging(good);
  auto logger = mode::get_logger("logging-test.unchanged");

  auto bad_level = good;
  bad_level.log_level = "chatty";
  CHECK(what_of([&] { mode::setup_logging(bad_level); }).find("'chatty'") != std::string::npos);

  auto bad_config = good;
  bad_config.logging_config = "a=debug,b=noisy";
  auto message = what_of([&] { mode::setup_logging(bad_config); });
  CHECK(message.find("'a=debug,b=noisy'") != std::string::npos);
  CHECK(message.find("'noisy'") != std::string::npos);
  bad_config.logging_config = "=debug";
  CHECK_THROWS_AS(mode::setup_logging(bad_config), std::invalid_argument);

  auto bad_file = good;
  bad_file.log_file = "/dev/null/mode-cannot-log-here.log";
  message = what_of([&] { mode::setup_logging(bad_file); });
  CHECK(message.find("'/dev/null/mode-cannot-log-here.log'") != std::string::npos);
  CHECK_THROWS_AS(mode::setup_logging(bad_file), std::runtime_error);

  logger->info("still configured");
  CHECK(sink->last_formatted() == std::vector<std::string>{"still configured"});
  CHECK(logger->level() == spdlog::level::info);
}

TEST_CASE("setup_logging writes a log file in mode's format" * doctest::timeout(10)) {
  temp_log file{"format"};
  {
    restore_logging restore;
    mode::LoggingOptions options;
    options.log_file = file.path.string();
    CHECK(mode::setup_logging(options) == 30);
    auto logger = mode::get_logger("logging-test.file");
    logger->info("below the default level");
    logger->warn("hello {}", "file");
    logger->critical("bye");
  }
  std::ifstream in{file.path};
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  REQUIRE(lines.size() == 2);
  auto prefix =
      R"(\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\] \[)" + std::to_string(::getpid()) + R"(\] )";
  CHECK(std::regex_match(lines[0], std::regex{prefix + R"(\[WARNING\]: hello file)"}));
  CHECK(std::regex_match(lines[1], std::regex{prefix + R"(\[CRITICAL\]: bye)"}));
}

TEST_CASE("StdoutRedirect logs std::cout and std::cerr lines" * doctest::timeout(10)) {
  auto sink = mode::make_capture_sink(64, "%* %v");
  auto logger = capture_logger("redirect-test", sink);
  auto* cout_before = std::cout.rdbuf();
  auto* cerr_before = std::cerr.rdbuf();
  {
    mode::StdoutRedirect redirect{logger, mode::Severity::info};
    CHECK(redirect.severity() == mode::Severity::info);
    std::cout << "hello\nwor" << std::flush << "ld" << '\n';
    std::cout << "   \n";
    std::cerr << "  x = " << 42 << "  " << std::endl;
    std::clog << "from clog\n";
    std::cout << "unfinished";
  }
  CHECK(std::cout.rdbuf() == cout_before);
  CHECK(std::cerr.rdbuf() == cerr_before);
  CHECK(sink->last_formatted() == std::vector<std::string>{"INFO hello", "INFO world",
                                                           "INFO x = 42", "INFO from clog",
                                                           "INFO unfinished"});
}

TEST_CASE("StdoutRedirect defaults to WARNING and can leave a stream alone" *
          doctest::timeout(10)) {
  auto sink = mode::make_capture_sink(64, "%* %v");
  auto logger = capture_logger("redirect-default-test", sink);
  std::ostringstream captured_err;
  auto* cerr_before = std::cerr.rdbuf(captured_err.rdbuf());
  {
    mode::StdoutRedirect redirect{logger, mode::Severity::warning, true, false};
    std::cout << "to the log\n";
    std::cerr << "to stderr\n";
  }
  std::cerr.rdbuf(cerr_before);
  CHECK(sink->last_formatted() == std::vector<std::string>{"WARNING to the log"});
  CHECK(captured_err.str() == "to stderr\n");
}

TEST_CASE("StdoutRedirect does not loop through a sink that writes to std::cout" *
          doctest::timeout(10)) {
  std::ostringstream real_stdout;
  auto* cout_before = std::cout.rdbuf(real_stdout.rdbuf());
  auto echo = std::make_shared<spdlog::sinks::ostream_sink_mt>(std::cout);
  echo->set_formatter(mode::make_formatter("logged: %v"));
  auto logger = std::make_shared<spdlog::logger>("redirect-loop-test", echo);
  {
    mode::StdoutRedirect redirect{logger};
    std::cout << "ping\n";
  }
  std::cout.rdbuf(cout_before);
  CHECK(real_stdout.str() == "logged: ping\n");
}

TEST_CASE("StdoutRedirect takes whole lines from many threads" * doctest::timeout(10)) {
  auto sink = mode::make_capture_sink(1024, "%v");
  auto logger = capture_logger("redirect-threads-test", sink);
  {
    mode::StdoutRedirect redirect{logger, mode::Severity::info};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([t] {
        for (int i = 0; i < 100; ++i) {
          // write(), not <<, which also resets the shared stream's width.
          auto line = "line " + std::to_string(t) + "-" + std::to_string(i) + "\n";
          std::cout.write(line.data(), static_cast<std::streamsize>(line.size()));
        }
      });
    for (auto& th : threads)
      th.join();
  }
  auto lines = sink->last_formatted();
  CHECK(lines.size() == 400);
  std::regex shape{R"(line [0-3]-\d{1,2})"};
  for (const auto& line : lines)
    CHECK(std::regex_match(line, shape));
}

TEST_CASE("setup_logging without a file writes mode's stream format to stderr" *
          doctest::timeout(10)) {
  temp_log file{"stderr"};
  std::fflush(stderr);
  int saved = ::dup(STDERR_FILENO);
  REQUIRE(saved >= 0);
  std::FILE* target = std::fopen(file.path.c_str(), "w");
  REQUIRE(target != nullptr);
  ::dup2(::fileno(target), STDERR_FILENO);
  {
    restore_logging restore;
    CHECK(mode::setup_logging({}) == 30);
    mode::get_logger("logging-test.stream")->error("to the stream");
  }
  std::fflush(stderr);
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  std::fclose(target);
  std::ifstream in{file.path};
  std::string line;
  std::getline(in, line);
  // No colon after the level (mode's coloured format) and, not being a
  // terminal, no colour codes.
  CHECK(std::regex_match(line,
                         std::regex{R"(\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\] \[)" +
                                    std::to_string(::getpid()) + R"(\] \[ERROR\] to the stream)"}));
}
