#include "mode/detail/demangle.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mode::detail {

std::string demangle(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> name{
      abi::__cxa_demangle(mangled, nullptr, nullptr, &status), &std::free};
  if (status != 0 || !name)
    return mangled;
  // What people write, rather than what the ABI spells (argument lists in node errors).
  std::string text = name.get();
  constexpr std::string_view spelled =
      "std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >";
  for (auto pos = text.find(spelled); pos != std::string::npos; pos = text.find(spelled, pos))
    text.replace(pos, spelled.size(), "std::string");
  return text;
}

const std::string& type_name(const std::type_info& type) {
  // Demangling costs microseconds and type names go into every crash chain (a
  // supervisor's restart path): once per type and thread, no lock needed. Keyed by
  // address, since hashing a type_index hashes its name.
  thread_local std::unordered_map<const std::type_info*, std::string> cache;
  auto& name = cache[&type];
  if (name.empty())
    name = demangle(type.name());
  return name;
}

std::string class_label(const std::type_info& type) {
  thread_local std::unordered_map<const std::type_info*, std::string> cache;
  auto& name = cache[&type];
  if (name.empty()) {
    name = type_name(type);
    // Templates keep their namespaces: the last "::" may sit inside the arguments.
    if (auto pos = name.rfind("::");
        pos != std::string::npos && name.find('<') == std::string::npos)
      name.erase(0, pos + 2);
  }
  return name;
}

}  // namespace mode::detail
