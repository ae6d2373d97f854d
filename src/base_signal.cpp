// Framework-neutral support for mode/base_signal.hpp: receiver ids, error reporting.
#include "mode/base_signal.hpp"

#include "mode/service.hpp"  // describe_exception

#include <spdlog/logger.h>
#include <spdlog/spdlog.h>

#include <cxxabi.h>

#include <atomic>
#include <cstdlib>
#include <memory>

namespace mode::detail {

receiver_id next_receiver_id() noexcept {
  static std::atomic<std::uint64_t> counter{0};
  return receiver_id{counter.fetch_add(1, std::memory_order_relaxed) + 1};
}

namespace {

// Looked up at every report, so that a test (or setup_logging) can replace the logger.
std::shared_ptr<spdlog::logger> signals_logger() {
  auto name = std::string{signals_logger_name};
  if (auto logger = spdlog::get(name))
    return logger;
  auto sinks = spdlog::default_logger()->sinks();
  auto logger = std::make_shared<spdlog::logger>(name, sinks.begin(), sinks.end());
  try {
    spdlog::register_logger(logger);
  } catch (const spdlog::spdlog_ex&) {
    // Another thread registered it first: use theirs.
    if (auto existing = spdlog::get(name))
      return existing;
  }
  return logger;
}

}  // namespace

void report_receiver_error(signal_counters& counters, std::string_view kind, std::string_view label,
                           receiver_id id, std::exception_ptr error) noexcept {
  counters.count_receiver_error();
  try {
    signals_logger()->error("{} '{}': receiver #{} raised {}", kind, label, id.value,
                            describe_exception(error));
  } catch (...) {
    // Reporting must never turn one failed receiver into a failed send.
  }
}

}  // namespace mode::detail
