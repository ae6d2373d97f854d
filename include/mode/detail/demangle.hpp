// Readable type names, for labels and messages.
#pragma once

#include <string>
#include <typeinfo>

namespace mode::detail {

/// The demangled name of a type (falls back to the mangled one).
std::string demangle(const char* mangled);

/// demangle(type.name()), worked out once per type and thread.
const std::string& type_name(const std::type_info& type);

/// The class name of `type` without namespaces: mode labels a service by its class name.
std::string class_label(const std::type_info& type);

}  // namespace mode::detail
