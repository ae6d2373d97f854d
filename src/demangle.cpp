#include "mode/detail/demangle.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>

namespace mode::detail {

std::string demangle(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> name{
      abi::__cxa_demangle(mangled, nullptr, nullptr, &status), &std::free};
  return status == 0 && name ? std::string{name.get()} : std::string{mangled};
}

std::string class_label(const std::type_info& type) {
  auto name = demangle(type.name());
  // Templates keep their namespaces: the last "::" may sit inside the arguments.
  if (auto pos = name.rfind("::"); pos != std::string::npos && name.find('<') == std::string::npos)
    name.erase(0, pos + 2);
  return name;
}

}  // namespace mode::detail
