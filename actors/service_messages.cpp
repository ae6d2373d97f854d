// A service's own message handlers (Service::add_handler): dispatch on its actor, and
// the errors its requesters get.
#include <algorithm>

#include <fmt/format.h>

#include "mode/detail/demangle.hpp"
#include "mode/service.hpp"
#include "service_actor.hpp"

namespace mode {

namespace detail {

caf::response_promise current_response_promise() {
  auto* self = running_actor();
  if (self == nullptr)
    throw std::logic_error("mode: a message handler ran outside its service's actor");
  return self->make_response_promise();
}

caf::error handler_failed_error(const Service& svc, const std::exception_ptr& error) {
  return make_mode_error(errc::handler_failed,
                         fmt::format("{} <- {}", svc.label(), describe_exception(error)));
}

caf::error stopped_before_answer_error(const Service& svc) {
  return make_mode_error(errc::not_running,
                         fmt::format("{} stopped before it answered", svc.label()));
}

void launch_reply(Service& svc, task<void> t) {
  // Begun here, in the handler that took the request: no message to self.
  auto& host = svc.host();
  host.begin(host.launch(std::move(t), "request handler", true, false));
}

std::string type_names(std::initializer_list<const std::type_info*> types) {
  std::string out = "(";
  for (const auto* t : types) {
    if (out.size() > 1)
      out += ", ";
    out += type_name(*t);
  }
  out += ')';
  return out;
}

}  // namespace detail

void Service::add_message_handler(detail::message_handler handler) {
  handlers_.push_back(std::move(handler));
}

caf::result<caf::message> Service::handle_message(caf::message& msg) {
  auto i = std::find_if(handlers_.begin(), handlers_.end(),
                        [&](const detail::message_handler& h) { return h.matches(msg); });
  if (i == handlers_.end()) {
    if (log().enabled(spdlog::level::warn))
      log().warn("No handler takes message {}", caf::to_string(msg));
    return caf::sec::unexpected_message;
  }
  if (state() != ServiceState::running)
    return detail::make_mode_error(
        detail::errc::not_running,
        fmt::format("{} is not running (state: {})", label(), to_string(state())));
  try {
    return i->invoke(msg);
  } catch (...) {
    return detail::handler_failed_error(*this, std::current_exception());
  }
}

}  // namespace mode
