// AwaitableService: the service from_awaitable makes runs its coroutine inside start.
#include "mode/awaitable_service.hpp"

namespace mode {

task<void> AwaitableService::on_start() {
  co_await wait(fn_(*this));
}

}  // namespace mode
