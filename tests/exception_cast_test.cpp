// Reading an exception_ptr in place (mode/detail/exception_cast.hpp), checked against
// what a catch clause sees after a rethrow: the oracle below is the language itself.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "mode/detail/exception_cast.hpp"
#include "mode/service.hpp"

using mode::detail::exception_ptr_cast;
using mode::detail::exception_type;

namespace {

/// What `catch (const E& e)` binds to after rethrowing `ep`: its address, or nullptr
/// if the clause would not match.
template <class E>
const void* caught_as(const std::exception_ptr& ep) {
  try {
    std::rethrow_exception(ep);
  } catch (const E& e) {
    return &e;
  } catch (...) {
    return nullptr;
  }
}

struct tag_base {
  virtual ~tag_base() = default;
  int padding[4] = {1, 2, 3, 4};
};
/// std::exception is not the first base: the cast must adjust the address.
struct second_base : tag_base, std::runtime_error {
  second_base() : std::runtime_error("second base") {}
};
/// Two std::exception bases: a catch of std::exception& does not match.
struct left : std::runtime_error {
  left() : std::runtime_error("left") {}
};
struct right : std::logic_error {
  right() : std::logic_error("right") {}
};
struct ambiguous : left, right {};
/// std::exception as a private base: a catch does not match.
struct hidden : private std::runtime_error {
  hidden() : std::runtime_error("hidden") {}
};

template <class T>
std::exception_ptr thrown(T value) {
  try {
    throw value;
  } catch (...) {
    return std::current_exception();
  }
}

}  // namespace

TEST_CASE("exception_ptr_cast finds what a catch clause would, at the same address" *
          doctest::timeout(10)) {
  auto plain = thrown(std::runtime_error("boom"));
  CHECK(exception_ptr_cast<std::exception>(plain) == caught_as<std::exception>(plain));
  CHECK(exception_ptr_cast<std::runtime_error>(plain) == caught_as<std::runtime_error>(plain));
  REQUIRE(exception_ptr_cast<std::exception>(plain) != nullptr);
  CHECK(std::string{exception_ptr_cast<std::exception>(plain)->what()} == "boom");
  CHECK(exception_ptr_cast<std::logic_error>(plain) == nullptr);
  CHECK(caught_as<std::logic_error>(plain) == nullptr);

  auto adjusted = thrown(second_base{});
  REQUIRE(caught_as<std::exception>(adjusted) != nullptr);
  CHECK(exception_ptr_cast<std::exception>(adjusted) == caught_as<std::exception>(adjusted));
  CHECK(exception_ptr_cast<tag_base>(adjusted) == caught_as<tag_base>(adjusted));
  CHECK(static_cast<const void*>(exception_ptr_cast<tag_base>(adjusted)) !=
        static_cast<const void*>(exception_ptr_cast<std::exception>(adjusted)));

  auto two = thrown(ambiguous{});
  CHECK(caught_as<std::exception>(two) == nullptr);
  CHECK(exception_ptr_cast<std::exception>(two) == nullptr);
  CHECK(exception_ptr_cast<std::logic_error>(two) == caught_as<std::logic_error>(two));

  auto priv = thrown(hidden{});
  CHECK(caught_as<std::exception>(priv) == nullptr);
  CHECK(exception_ptr_cast<std::exception>(priv) == nullptr);
}

TEST_CASE("exception_ptr_cast: values that are not class objects, and an empty pointer" *
          doctest::timeout(10)) {
  auto number = thrown(42);
  CHECK(exception_ptr_cast<std::exception>(number) == nullptr);
  REQUIRE(exception_type(number) != nullptr);
  CHECK(*exception_type(number) == typeid(int));

  static const std::runtime_error target{"pointed at"};
  auto pointer = thrown(&target);
  CHECK(exception_ptr_cast<std::exception>(pointer) == nullptr);
  CHECK(*exception_type(pointer) == typeid(const std::runtime_error*));

  std::exception_ptr none;
  CHECK(exception_type(none) == nullptr);
  CHECK(exception_ptr_cast<std::exception>(none) == nullptr);

  auto made = std::make_exception_ptr(std::out_of_range("made, never thrown"));
  CHECK(exception_ptr_cast<std::logic_error>(made) == caught_as<std::logic_error>(made));
  CHECK(*exception_type(made) == typeid(std::out_of_range));
}

TEST_CASE("describe_exception names the type and what(), and passes a crash chain on" *
          doctest::timeout(10)) {
  CHECK(mode::describe_exception(thrown(std::runtime_error("boom"))) == "std::runtime_error: boom");
  CHECK(mode::describe_exception(thrown(second_base{})) ==
        "(anonymous namespace)::second_base: "
        "second base");
  CHECK(mode::describe_exception(thrown(mode::ServiceCrashed{"A <- B <- std::runtime_error: x"})) ==
        "A <- B <- std::runtime_error: x");
  CHECK(mode::describe_exception(thrown(7)) == "int");
  CHECK(mode::describe_exception(std::exception_ptr{}) == "no exception");
}
