// mode::detail::id_table, against a std::map holding the same entries.
#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <random>
#include <stdexcept>

#include "mode/detail/id_table.hpp"

using mode::detail::id_table;

TEST_CASE("id_table: insert, find, take, in any order" * doctest::timeout(10)) {
  id_table<int*> table;
  std::map<std::uint64_t, int*> oracle;
  std::vector<int> values(2000);
  std::mt19937 rng{7};
  std::uint64_t next = 1;
  for (int round = 0; round < 20000; ++round) {
    bool add = oracle.empty() || rng() % 3 != 0;
    if (add) {
      next += 1 + rng() % 3;
      auto* v = &values[next % values.size()];
      table.insert(next, v);
      oracle[next] = v;
    } else {
      auto i = oracle.begin();
      std::advance(i, static_cast<long>(rng() % oracle.size()));
      CHECK(table.take(i->first) == i->second);
      oracle.erase(i);
    }
    REQUIRE(table.size() == oracle.size());
  }
  for (auto& [id, v] : oracle) {
    REQUIRE(table.find(id) != nullptr);
    CHECK(*table.find(id) == v);
  }
  CHECK(table.find(next + 1) == nullptr);
  CHECK(table.take(next + 1) == nullptr);
  std::vector<std::uint64_t> walked;
  table.for_each([&](std::uint64_t id, int*) { walked.push_back(id); });
  std::vector<std::uint64_t> expected;
  for (auto& kv : oracle)
    expected.push_back(kv.first);
  CHECK(walked == expected);
}

TEST_CASE("id_table: owns unique_ptrs, empties newest first, refuses ids going down" *
          doctest::timeout(10)) {
  id_table<std::unique_ptr<int>> table;
  table.insert(3, std::make_unique<int>(3));
  table.insert(5, std::make_unique<int>(5));
  table.insert(9, std::make_unique<int>(9));
  CHECK_THROWS_AS(table.insert(9, std::make_unique<int>(0)), std::logic_error);
  CHECK_THROWS_AS(table.insert(4, std::make_unique<int>(0)), std::logic_error);
  CHECK(table.ids_where([](const std::unique_ptr<int>& v) { return *v > 4; }) ==
        std::vector<std::uint64_t>{5, 9});
  CHECK(*table.take(5) == 5);
  CHECK(*table.take_last() == 9);
  CHECK(*table.take_last() == 3);
  CHECK(table.take_last() == nullptr);
  CHECK(table.empty());
  table.insert(10, std::make_unique<int>(10));  // still increasing after emptying
  CHECK(**table.find(10) == 10);
}
