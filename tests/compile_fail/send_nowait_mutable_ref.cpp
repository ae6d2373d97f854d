// expect: a T& argument would be read by receivers that run later
#include <vector>

#include "mode/signal.hpp"

void fire(mode::Signal<int, std::vector<int>&>& sig, std::vector<int>& v) {
  sig.send_nowait(1, v);
}
