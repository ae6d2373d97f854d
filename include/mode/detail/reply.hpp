// Reading a request's reply as the type the caller asked for, and turning a request's
// caf::error into the exception a caller can catch apart (mode/errors.hpp).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>

#include <caf/error.hpp>
#include <caf/message.hpp>

#include "mode/errors.hpp"

namespace mode::detail {

/// Throws the exception for `err`, the failure of `call`: TimeoutError (naming
/// `timeout`), ServiceCrashed, ServiceNotRunning or RequestError.
[[noreturn]] void throw_request_error(const caf::error& err, std::string_view call,
                                      std::optional<std::chrono::nanoseconds> timeout);
/// Throws RequestError: the reply to `call` has other types than `expected`.
[[noreturn]] void throw_unexpected_reply(const caf::message& reply, const std::type_info& expected,
                                         std::string_view call);

template <class T>
struct reply_reader {
  static bool matches(const caf::message& m) { return m.match_elements<T>(); }
  static T read(caf::message& m) { return std::move(m.get_mutable_as<T>(0)); }
};
template <class... Ts>
struct reply_reader<std::tuple<Ts...>> {
  static bool matches(const caf::message& m) { return m.match_elements<Ts...>(); }
  static std::tuple<Ts...> read(caf::message& m) {
    return read(m, std::index_sequence_for<Ts...>{});
  }
  template <std::size_t... I>
  static std::tuple<Ts...> read(caf::message& m, std::index_sequence<I...>) {
    return std::tuple<Ts...>{std::move(m.get_mutable_as<Ts>(I))...};
  }
};

/// The reply as R: void for an empty reply, caf::message takes it whole, a std::tuple
/// takes several elements, any other type one.
template <class R>
R reply_as(caf::message& reply, std::string_view call) {
  if constexpr (std::is_void_v<R>) {
    if (!reply.empty())
      throw_unexpected_reply(reply, typeid(void), call);
  } else if constexpr (std::is_same_v<R, caf::message>) {
    (void)call;
    return std::move(reply);
  } else {
    if (!reply_reader<R>::matches(reply))
      throw_unexpected_reply(reply, typeid(R), call);
    return reply_reader<R>::read(reply);
  }
}

}  // namespace mode::detail
