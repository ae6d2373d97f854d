// Tests for mode/diag.hpp: mode's Service.Diag on its own (the flags a service shows in
// graphs and the console). transition_with/transitions_to are in service_wait_test.cpp.
#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "mode/diag.hpp"

TEST_CASE(
    "mode: unit/test_services.py::test_Diag::test_set_unset_flag: Diag: a flag is set until unset, "
    "and flags() lists the set ones sorted") {
  mode::Diag diag;
  CHECK(diag.flags().empty());
  CHECK_FALSE(diag.has_flag("FLUSH"));

  diag.set_flag("POLL");
  diag.set_flag("FLUSH");
  diag.set_flag("COMMIT");
  CHECK(diag.has_flag("FLUSH"));
  CHECK(diag.flags() == std::vector<std::string>{"COMMIT", "FLUSH", "POLL"});

  diag.unset_flag("FLUSH");
  CHECK_FALSE(diag.has_flag("FLUSH"));
  CHECK(diag.flags() == std::vector<std::string>{"COMMIT", "POLL"});

  // Setting twice is one flag (mode keeps a set).
  diag.set_flag("POLL");
  CHECK(diag.flags() == std::vector<std::string>{"COMMIT", "POLL"});
}

TEST_CASE("Diag: last_transition is when a flag was last set, as in mode") {
  mode::Diag diag;
  CHECK_FALSE(diag.last_transition("POLL").has_value());

  auto before = mode::Diag::clock::now();
  diag.set_flag("POLL");
  auto first = diag.last_transition("POLL");
  REQUIRE(first.has_value());
  CHECK(*first >= before);

  // mode's unset_flag only discards the flag: the time it was set stays.
  diag.unset_flag("POLL");
  CHECK(diag.last_transition("POLL") == first);

  // steady_clock may not advance between two calls; wait until it has.
  while (mode::Diag::clock::now() == *first)
    std::this_thread::yield();
  diag.set_flag("POLL");
  auto second = diag.last_transition("POLL");
  REQUIRE(second.has_value());
  CHECK(*second > *first);

  // Unsetting a flag never set leaves no trace.
  diag.unset_flag("NEVER");
  CHECK_FALSE(diag.last_transition("NEVER").has_value());
  CHECK(diag.flags() == std::vector<std::string>{"POLL"});
}
