// The framework-neutral side of the Worker's options and output.
#include <cmath>
#include <ostream>
#include <stdexcept>

#include <fmt/format.h>

#include "mode/worker.hpp"

namespace mode {

void validate(const WorkerOptions& options) {
  try {
    (void)want_level(std::string_view{options.log_level});
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument(
        fmt::format("--loglevel: unknown log level '{}' (expected debug, info, warning, error, "
                    "critical or a number)",
                    options.log_level));
  }
  auto positive = [](const Seconds& s) {
    return std::isfinite(s.count()) && s.count() > 0;
  };
  if (!positive(options.blocking_timeout))
    throw std::invalid_argument(
        fmt::format("--blocking-timeout: must be a positive number of seconds, got '{}'",
                    options.blocking_timeout.count()));
  if (!positive(options.stop_timeout))
    throw std::invalid_argument(
        fmt::format("--stop-timeout: must be a positive number of seconds, got '{}'",
                    options.stop_timeout.count()));
}

std::vector<std::string> normalize_arguments(std::vector<std::string> args) {
  constexpr std::string_view prefix = "--caf.";
  for (auto& arg : args)
    if (arg.size() > prefix.size() && arg.starts_with(prefix))
      arg.erase(2, prefix.size() - 2);
  return args;
}

}  // namespace mode
