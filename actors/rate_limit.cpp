// Bucket on an actor: its default clock (the running actor's, virtual under CAF's test
// coordinator) and acquire(), which waits with Service::sleep.
#include "mode/rate_limit.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include <fmt/format.h>

#include "mode/service.hpp"
#include "service_actor.hpp"

namespace mode {

Bucket::clock_type::time_point Bucket::now() const {
  if (clock_)
    return clock_();
  if (auto* self = detail::running_actor())
    return self->clock().now();
  return clock_type::now();
}

task<void> Bucket::acquire() {
  // Checked at the call, not at the first resume: the mistake shows where it is made.
  auto* self = detail::running_actor();
  if (self == nullptr)
    throw std::logic_error(
        "mode::Bucket::acquire() must be awaited from a service's coroutine (off an actor, "
        "use pour() and expected_time())");
  if (capacity() < 1.0)
    throw std::logic_error(fmt::format(
        "mode::Bucket::acquire(): a capacity of {} tokens can never hold the one it takes",
        capacity()));
  return take_one(self->service());
}

task<void> Bucket::take_one(Service& svc) {
  while (!pour()) {
    if (raises_)
      std::rethrow_exception(raises_(fmt::format(
          "mode: rate limit exceeded ({} per second, capacity {})", rate(), capacity())));
    // Whole nanoseconds, rounded up: a wait rounded down to nothing would find the
    // bucket as short as before, at the same time point, again and again.
    auto wait = std::max(std::chrono::ceil<std::chrono::nanoseconds>(expected_time()),
                         std::chrono::nanoseconds{1});
    co_await svc.sleep(wait);
    if (svc.should_stop())
      throw CancelledError{};
  }
}

}  // namespace mode
