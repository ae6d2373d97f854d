// Small text helpers shared by the parsers in src/ (private to the library).
#pragma once

#include <string_view>

namespace mode::detail {

constexpr std::string_view whitespace = " \t\n\r\f\v";

/// `text` without leading and trailing white space.
constexpr std::string_view trim(std::string_view text) noexcept {
  auto first = text.find_first_not_of(whitespace);
  if (first == std::string_view::npos)
    return {};
  auto last = text.find_last_not_of(whitespace);
  return text.substr(first, last - first + 1);
}

}  // namespace mode::detail
