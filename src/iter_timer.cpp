// IterTimer::next: one sleep of the drift-correcting timer on the service's clock.
#include "mode/iter_timer.hpp"

#include "mode/service.hpp"

namespace mode {

task<bool> IterTimer::next() {
  auto d = first_ ? timer_.first_sleep() : timer_.next_sleep();
  first_ = false;
  if (svc_.should_stop())
    co_return false;
  co_await svc_.sleep(d);
  if (svc_.should_stop())
    co_return false;
  timer_.on_wakeup();
  co_return true;
}

}  // namespace mode
