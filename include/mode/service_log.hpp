// mode::ServiceLog: a service's logger, which prefixes each line with the service's place in
// the tree and its label (mode's Service.log, a CompositeLogger).
#pragma once

#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace mode {

class Service;

/// The prefix-adding logger of a service: `log().info("x")` logs `[^--Label]: x`.
class ServiceLog {
 public:
  explicit ServiceLog(const Service& svc) : svc_(svc) {}
  template <class... Ts>
  void log(spdlog::level::level_enum lvl, fmt::format_string<Ts...> fmt, Ts&&... xs) const {
    if (enabled(lvl))
      write(lvl, fmt::format(fmt, std::forward<Ts>(xs)...));
  }
  /// True if a line at `lvl` would be written.
  [[nodiscard]] bool enabled(spdlog::level::level_enum lvl) const;
  template <class... Ts>
  void debug(fmt::format_string<Ts...> fmt, Ts&&... xs) const {
    log(spdlog::level::debug, fmt, std::forward<Ts>(xs)...);
  }
  template <class... Ts>
  void info(fmt::format_string<Ts...> fmt, Ts&&... xs) const {
    log(spdlog::level::info, fmt, std::forward<Ts>(xs)...);
  }
  template <class... Ts>
  void warn(fmt::format_string<Ts...> fmt, Ts&&... xs) const {
    log(spdlog::level::warn, fmt, std::forward<Ts>(xs)...);
  }
  template <class... Ts>
  void error(fmt::format_string<Ts...> fmt, Ts&&... xs) const {
    log(spdlog::level::err, fmt, std::forward<Ts>(xs)...);
  }
  /// Writes an already formatted message with the service's prefix.
  void write(spdlog::level::level_enum lvl, std::string_view msg) const;

 private:
  const Service& svc_;
};

}  // namespace mode
