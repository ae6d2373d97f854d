// TEMPORARY stand-in until the times-timer branch lands (same interface subset).
#pragma once
#include <chrono>
#include <type_traits>
namespace mode {
using seconds_f = std::chrono::duration<double>;
class Seconds {
 public:
  template <class Rep, class Period>
  Seconds(std::chrono::duration<Rep, Period> d)
      : value_(std::chrono::duration_cast<seconds_f>(d)) {}
  template <class T>
  requires std::is_arithmetic_v<T> Seconds(T x) : value_(static_cast<double>(x)) {}
  double count() const { return value_.count(); }
  seconds_f duration() const { return value_; }

 private:
  seconds_f value_;
};
inline std::chrono::nanoseconds to_nanoseconds(const Seconds& s) {
  return std::chrono::round<std::chrono::nanoseconds>(s.duration());
}
}  // namespace mode
