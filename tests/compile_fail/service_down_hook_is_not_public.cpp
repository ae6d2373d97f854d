// expect: marked .+override.+ but does not override
#include <caf/all.hpp>

#include "mode/service.hpp"

// CAF's down/exit hooks are not part of a user's Service (only supervisors get them).
class S : public mode::Service {
 public:
  void on_down_message(const caf::down_msg&) override {}
};
