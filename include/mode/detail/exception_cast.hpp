// Reading an exception_ptr without rethrowing it.
//
// A rethrow is a full unwind: on this project's 2-core machines one costs about as much
// as the rest of a supervised restart. The crash path (describing a crash, telling a
// cancellation from a failure) only needs to look at the exception, so it reads it in
// place, as C++26's std::exception_ptr_cast (P2927) will: through libstdc++'s layout
// (an exception_ptr is the address of the thrown object) and the C++ ABI's catch
// matching (type_info::__do_catch, what a catch clause runs). Other standard libraries
// fall back to a rethrow.
#pragma once

#include <exception>
#include <typeinfo>

namespace mode::detail {

/// The type of the object `e` holds (as thrown), or nullptr if `e` is empty.
const std::type_info* exception_type(const std::exception_ptr& e) noexcept;

#if defined(__GLIBCXX__)
/// The address of the object `e` holds, adjusted to `target` as a `catch (target&)`
/// clause would adjust it, or nullptr if `e` is empty or holds no `target`.
const void* exception_object(const std::exception_ptr& e, const std::type_info& target) noexcept;
#endif

/// The exception `e` holds as an `E`, as `catch (const E&)` would see it, or nullptr.
/// Valid while `e` (or a copy of it) lives.
template <class E>
const E* exception_ptr_cast(const std::exception_ptr& e) noexcept {
#if defined(__GLIBCXX__)
  return static_cast<const E*>(exception_object(e, typeid(E)));
#else
  if (!e)
    return nullptr;
  try {
    std::rethrow_exception(e);
  } catch (const E& x) {
    return &x;
  } catch (...) {
    return nullptr;
  }
#endif
}

}  // namespace mode::detail
