// One JSON object per log record (mode/json_log.hpp).
#include "mode/json_log.hpp"

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <string>
#include <utility>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/details/log_msg.h>
#include <nlohmann/json.hpp>

#include "mode/logging.hpp"

namespace mode {

std::pair<std::string_view, std::string_view> split_service_prefix(std::string_view line) noexcept {
  // ServiceLog writes "[^" + one dash per level below the root + label + "]: ".
  if (!line.starts_with("[^"))
    return {{}, line};
  auto rest = line.substr(2);
  while (rest.starts_with('-'))
    rest.remove_prefix(1);
  auto end = rest.find("]: ");
  if (end == std::string_view::npos || end == 0)
    return {{}, line};
  return {rest.substr(0, end), rest.substr(end + 3)};
}

namespace {

/// ISO 8601 in UTC with milliseconds: 2026-12-07T12:00:00.123Z.
std::string utc_time(spdlog::log_clock::time_point t) {
  auto since_epoch = t.time_since_epoch();
  auto secs = std::chrono::floor<std::chrono::seconds>(since_epoch);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - secs);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z",
                     fmt::gmtime(static_cast<std::time_t>(secs.count())), millis.count());
}

class json_formatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string_view text{msg.payload.data(), msg.payload.size()};
    auto [service, message] = split_service_prefix(text);
    nlohmann::ordered_json record;
    record["time"] = utc_time(msg.time);
    record["level"] = level_name(msg.level);
    record["logger"] = std::string_view{msg.logger_name.data(), msg.logger_name.size()};
    if (!service.empty())
      record["service"] = service;
    record["message"] = message;
    record["pid"] = pid_;
    // Invalid UTF-8 becomes U+FFFD rather than an exception inside the logger.
    auto line = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    line += '\n';
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<json_formatter>();
  }

 private:
  long pid_ = static_cast<long>(::getpid());
};

}  // namespace

std::unique_ptr<spdlog::formatter> make_json_formatter() {
  return std::make_unique<json_formatter>();
}

}  // namespace mode
