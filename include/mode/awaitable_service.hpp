// mode::from_awaitable: a service made of one coroutine (mode's Service.from_awaitable).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "mode/service.hpp"
#include "mode/task.hpp"

namespace mode {

/// mode's Service.from_awaitable: a service whose start runs one coroutine; stopping the
/// service cancels it.
class AwaitableService : public Service {
 public:
  using factory = std::function<task<void>(Service&)>;
  AwaitableService(factory fn, std::string name) : fn_(std::move(fn)), name_(std::move(name)) {}
  std::string label() const override { return name_.empty() ? Service::label() : name_; }
  task<void> on_start() override;

 private:
  factory fn_;
  std::string name_;
};

/// mode's Service.from_awaitable(coro, name=...): `fn` is called at each start and the
/// coroutine it returns runs until it ends or the service stops.
///
/// The coroutine runs inside the start, as in mode: a blocking ServiceHandle::start()
/// (or `co_await handle.async_start()`) returns only once the whole coroutine ended,
/// and times out if it runs longer than the call's timeout. To start it and go on, use
/// send_start() (and wait_until_stopped() for its end).
inline std::shared_ptr<Service> from_awaitable(AwaitableService::factory fn,
                                               std::string name = {}) {
  return std::make_shared<AwaitableService>(std::move(fn), std::move(name));
}

}  // namespace mode
