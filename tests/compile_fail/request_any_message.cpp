// expect: name the reply's types
#include "mode/request.hpp"

mode::task<void> ask(caf::actor a) {
  co_await mode::request<caf::message>(a, 1.0, 1);
}
