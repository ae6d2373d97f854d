// expect: AsyncContext
#include <memory>

#include "mode/service.hpp"

// mode's test_add_async_context__non_async / __not_context: add_async_context takes
// only an object with task<void> aenter() and aexit(); mode raises TypeError.
struct Plain {};

class S : public mode::Service {
  mode::task<void> on_start() override { co_await add_async_context(std::make_unique<Plain>()); }
};
