// The framework-neutral side of the Worker's options and output.
#include <sys/un.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
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
  if (options.log_format != "text" && options.log_format != "json")
    throw std::invalid_argument(fmt::format(
        "--log-format: unknown log format '{}' (expected text or json)", options.log_format));
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
  // sockaddr_un::sun_path holds 108 bytes with the terminating NUL.
  constexpr std::size_t max_socket_path = sizeof(sockaddr_un::sun_path) - 1;
  if (options.console_socket.size() > max_socket_path)
    throw std::invalid_argument(
        fmt::format("--console-socket: a socket path has at most {} bytes, got '{}' ({} bytes)",
                    max_socket_path, options.console_socket, options.console_socket.size()));
  if (options.console_socket.find('\0') != std::string::npos)
    throw std::invalid_argument("--console-socket: the path contains a NUL byte");
  if (options.node)
    validate(*options.node);
}

std::string default_console_socket() {
  const char* runtime_dir = std::getenv("XDG_RUNTIME_DIR");
  std::string dir = runtime_dir != nullptr && *runtime_dir == '/' ? runtime_dir : "/tmp";
  return fmt::format("{}/mode-console-{}.sock", dir, ::getpid());
}

std::vector<std::string> normalize_arguments(std::vector<std::string> args) {
  constexpr std::string_view prefix = "--caf.";
  for (auto& arg : args)
    if (arg.size() > prefix.size() && arg.starts_with(prefix))
      arg.erase(2, prefix.size() - 2);
  return args;
}

}  // namespace mode
