// ServiceLog: the prefix `[^--Label]: ` on a service's log lines.
#include "mode/service_log.hpp"

#include <string>

#include "mode/service.hpp"

namespace mode {

bool ServiceLog::enabled(spdlog::level::level_enum lvl) const {
  auto& lg = svc_.logger();
  return lg && lg->should_log(lvl);
}

void ServiceLog::write(spdlog::level::level_enum lvl, std::string_view msg) const {
  auto& lg = svc_.logger();
  if (!lg || !lg->should_log(lvl))
    return;
  auto dashes = svc_.depth() > 1 ? static_cast<std::size_t>(svc_.depth() - 1) : 0U;
  lg->log(lvl, "[^{}{}]: {}", std::string(dashes, '-'), svc_.shortlabel(), msg);
}

}  // namespace mode
