// mode::json_formatter: every record one line of JSON that parses back to its fields.
#include "mode/json_log.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "mode/logging.hpp"

namespace {

/// A logger named `name` writing JSON lines into `out`.
std::shared_ptr<spdlog::logger> json_logger(const std::string& name, std::ostringstream& out) {
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  sink->set_formatter(mode::make_json_formatter());
  auto lg = std::make_shared<spdlog::logger>(name, sink);
  lg->set_level(spdlog::level::trace);
  return lg;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("json log: a service's line has its label apart; fields parse back" *
          doctest::timeout(10)) {
  std::ostringstream out;
  auto lg = json_logger("mode.services", out);
  lg->error("[^--Fetcher]: Crashed reason=std::runtime_error: boom");
  lg->info("plain message");
  auto lines = lines_of(out.str());
  REQUIRE(lines.size() == 2);
  auto first = nlohmann::json::parse(lines[0]);
  CHECK(first["level"] == "ERROR");
  CHECK(first["logger"] == "mode.services");
  CHECK(first["service"] == "Fetcher");
  CHECK(first["message"] == "Crashed reason=std::runtime_error: boom");
  CHECK(first["pid"] == static_cast<long>(::getpid()));
  auto time = first["time"].get<std::string>();
  CAPTURE(time);
  REQUIRE(time.size() == 24);  // 2026-12-07T12:00:00.123Z
  CHECK(time[4] == '-');
  CHECK(time[10] == 'T');
  CHECK(time[19] == '.');
  CHECK(time.back() == 'Z');
  auto second = nlohmann::json::parse(lines[1]);
  CHECK(second["level"] == "INFO");
  CHECK_FALSE(second.contains("service"));
  CHECK(second["message"] == "plain message");
}

TEST_CASE("json log: newlines, quotes and bytes that are not UTF-8 stay on one parseable line" *
          doctest::timeout(10)) {
  std::ostringstream out;
  auto lg = json_logger("app", out);
  lg->warn("two\nlines \"quoted\" \xff\xfe end");
  auto lines = lines_of(out.str());
  REQUIRE(lines.size() == 1);
  auto record = nlohmann::json::parse(lines[0]);
  CHECK(record["level"] == "WARNING");
  CHECK(record["message"] == "two\nlines \"quoted\" \xEF\xBF\xBD\xEF\xBF\xBD end");
}

TEST_CASE("json log: split_service_prefix takes mode's [^--Label]: prefix only" *
          doctest::timeout(10)) {
  using mode::split_service_prefix;
  using pair = std::pair<std::string_view, std::string_view>;
  CHECK(split_service_prefix("[^Worker]: Starting...") == pair{"Worker", "Starting..."});
  CHECK(split_service_prefix("[^---Deep]: x") == pair{"Deep", "x"});
  CHECK(split_service_prefix("[^-A]: ") == pair{"A", ""});
  CHECK(split_service_prefix("no prefix") == pair{"", "no prefix"});
  CHECK(split_service_prefix("[^]: empty label") == pair{"", "[^]: empty label"});
  CHECK(split_service_prefix("[^-unterminated") == pair{"", "[^-unterminated"});
  CHECK(split_service_prefix("[x]: other brackets") == pair{"", "[x]: other brackets"});
}

TEST_CASE("json log: setup_logging refuses an unknown format, naming it" * doctest::timeout(10)) {
  mode::LoggingOptions options;
  options.log_format = "yaml";
  CHECK_THROWS_WITH_AS(mode::setup_logging(options), doctest::Contains("'yaml'"),
                       std::invalid_argument);
}
