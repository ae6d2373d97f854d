// describe_exception: how mode-cpp prints an exception in logs and crash chains.
#include "mode/errors.hpp"

#include <string>

#include "mode/detail/demangle.hpp"
#include "mode/detail/exception_cast.hpp"

namespace mode {

std::string describe_exception(const std::exception_ptr& error) {
  // Read in place: a rethrow to look at it would cost a second unwind per crash.
  if (!error)
    return "no exception";
  if (const auto* chain = detail::exception_ptr_cast<ServiceCrashed>(error))
    return chain->what();  // already a chain naming the services it went through
  const auto* type = detail::exception_type(error);
  if (type == nullptr)
    return "unknown exception";
  std::string text = detail::type_name(*type);
  if (const auto* e = detail::exception_ptr_cast<std::exception>(error)) {
    text += ": ";
    text += e->what();
  }
  return text;
}

}  // namespace mode
