// expect: AsyncContext
#include <memory>

#include "mode/service.hpp"

// mode's test_add_context__is_async: add_context refuses an async context (its aexit
// would never run); mode raises TypeError.
struct Async {
  mode::task<void> aenter() { co_return; }
  mode::task<void> aexit() { co_return; }
};

class S : public mode::Service {
  mode::task<void> on_start() override {
    add_context(std::make_unique<Async>());
    co_return;
  }
};
