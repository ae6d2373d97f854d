// expect: take a handler's parameters by value or by \(const\) reference
#include <string>

#include "mode/service.hpp"

class S : public mode::Service {
 public:
  S() {
    add_handler([](std::string&& s) { return s.size(); });
  }
};
