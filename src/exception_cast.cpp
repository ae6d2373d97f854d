#include "mode/detail/exception_cast.hpp"

#include <cxxabi.h>

#include <cstring>

namespace mode::detail {

#if defined(__GLIBCXX__)

static_assert(sizeof(std::exception_ptr) == sizeof(void*),
              "libstdc++'s exception_ptr is the address of the thrown object");

const std::type_info* exception_type(const std::exception_ptr& e) noexcept {
  return e ? e.__cxa_exception_type() : nullptr;
}

const void* exception_object(const std::exception_ptr& e, const std::type_info& target) noexcept {
  const std::type_info* thrown = exception_type(e);
  if (thrown == nullptr || thrown->__is_pointer_p())
    return nullptr;  // a thrown pointer is not a class object
  void* object = nullptr;
  std::memcpy(&object, &e, sizeof object);
  // What the personality routine runs to match `catch (target&)`: true if the thrown
  // type is `target` or has it as an unambiguous public base, with `object` adjusted
  // to that base.
  if (!target.__do_catch(thrown, &object, 1))
    return nullptr;
  return object;
}

#else

const std::type_info* exception_type(const std::exception_ptr& e) noexcept {
  if (!e)
    return nullptr;
  try {
    std::rethrow_exception(e);
  } catch (...) {
    return abi::__cxa_current_exception_type();
  }
}

#endif

}  // namespace mode::detail
