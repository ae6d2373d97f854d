// expect: this typed actor declares no handler for these message elements
#include <string>

#include "mode/request.hpp"

using get_atom = caf::atom_constant<caf::atom("get")>;
using counter = caf::typed_actor<caf::replies_to<get_atom>::with<int>>;

mode::task<void> ask(counter c) {
  co_await mode::request(c, 1.0, std::string{"not declared"});
}
