// The type-erased form of a Service's message handler (Service::add_handler): which
// messages it takes, and how it answers them. Plain functions answer in the handler;
// coroutines answer when they finish, through a response promise that always
// delivers: a result, the handler's exception, or "stopped before answering".
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <initializer_list>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include <caf/message.hpp>
#include <caf/response_promise.hpp>
#include <caf/result.hpp>

#include "mode/task.hpp"

namespace mode {
class Service;
}  // namespace mode

namespace mode::detail {

/// One registered handler: `matches` tests a message's element types, `invoke` runs
/// the handler on the service's actor and returns its answer (or delegates it).
struct message_handler {
  bool (*matches)(const caf::message&) = nullptr;
  std::function<caf::result<caf::message>(caf::message&)> invoke;
  /// The handler's parameter types, for logs ("(get_atom, std::string)").
  std::string (*signature)() = nullptr;
};

// -- defined by the actor layer ------------------------------------------------------------

/// A promise for the request being handled on the calling service's actor.
caf::response_promise current_response_promise();
/// The error a requester gets when `svc`'s handler ended with `error`:
/// `<label> <- <type>: <what()>` (thrown there as RequestError).
caf::error handler_failed_error(const Service& svc, const std::exception_ptr& error);
/// The error a requester gets when `svc` stopped before its handler answered.
caf::error stopped_before_answer_error(const Service& svc);
/// Runs `t` as one of `svc`'s futures (cancelled when it stops).
void launch_reply(Service& svc, task<void> t);
/// Demangled names of the types, comma-separated.
std::string type_names(std::initializer_list<const std::type_info*> types);

// -- building handlers ---------------------------------------------------------------------

/// A response promise that answers exactly once: with what the handler gave, or, if
/// the handler's coroutine is destroyed first (its service stopped), with an error.
class reply_guard {
 public:
  reply_guard(caf::response_promise rp, const Service& svc) noexcept
      : rp_(std::move(rp)), svc_(&svc) {}
  reply_guard(const reply_guard&) = delete;
  reply_guard& operator=(const reply_guard&) = delete;
  reply_guard(reply_guard&&) noexcept = default;  // the moved-from promise is not pending
  reply_guard& operator=(reply_guard&&) = delete;
  ~reply_guard() {
    if (rp_.pending())
      rp_.deliver(stopped_before_answer_error(*svc_));
  }
  void deliver(caf::message msg) { rp_.deliver(std::move(msg)); }
  void fail(caf::error err) { rp_.deliver(std::move(err)); }

 private:
  caf::response_promise rp_;
  const Service* svc_;
};

template <class T>
struct is_task : std::false_type {};
template <class T>
struct is_task<task<T>> : std::true_type {
  using value_type = T;
};

/// The reply message of a handler's result.
template <class T>
struct is_tuple : std::false_type {};
template <class... Ts>
struct is_tuple<std::tuple<Ts...>> : std::true_type {};

/// The reply message of a handler's result: a std::tuple answers with its elements.
template <class R>
caf::message reply_message(R&& value) {
  if constexpr (std::is_same_v<std::decay_t<R>, caf::message>)
    return std::forward<R>(value);
  else if constexpr (is_tuple<std::decay_t<R>>::value)
    return std::apply([](auto&&... xs) { return caf::make_message(std::move(xs)...); },
                      std::forward<R>(value));
  else
    return caf::make_message(std::forward<R>(value));
}

/// Answers the request with what `work` gives. The guard is a parameter, so that a
/// frame destroyed early (its actor killed), even before it began, still answers.
template <class R>
task<void> reply_task(reply_guard guard, const Service* svc, task<R> work) {
  std::exception_ptr error;
  if constexpr (std::is_void_v<R>) {
    error = co_await error_of(std::move(work));
    if (!error) {
      guard.deliver(caf::message{});  // empty: what a void handler answers
      co_return;
    }
  } else {
    try {
      auto value = co_await std::move(work);
      guard.deliver(reply_message(std::move(value)));
      co_return;
    } catch (...) {
      error = std::current_exception();
    }
  }
  guard.fail(handler_failed_error(*svc, error));
}

/// Reads element I of `msg` as the handler's parameter type P.
template <class P, std::size_t I>
decltype(auto) argument(caf::message& msg) {
  using T = std::decay_t<P>;
  if constexpr (std::is_lvalue_reference_v<P> && std::is_const_v<std::remove_reference_t<P>>)
    return msg.get_as<T>(I);
  else if constexpr (std::is_lvalue_reference_v<P>)
    return msg.get_mutable_as<T>(I);
  else
    return T{std::move(msg.get_mutable_as<T>(I))};
}

template <class Fn, class R, class... Ps>
message_handler make_handler(Service& svc, Fn fn) {
  message_handler h;
  h.matches = [](const caf::message& msg) {
    return msg.match_elements<std::decay_t<Ps>...>();
  };
  h.signature = [] {
    return type_names({&typeid(std::decay_t<Ps>)...});
  };
  h.invoke = [&svc, fn = std::move(fn)](caf::message& msg) mutable -> caf::result<caf::message> {
    auto call = [&]<std::size_t... I>(std::index_sequence<I...>)->decltype(auto) {
      return fn(argument<Ps, I>(msg)...);
    };
    using seq = std::index_sequence_for<Ps...>;
    if constexpr (is_task<R>::value) {
      auto rp = current_response_promise();
      launch_reply(svc, reply_task(reply_guard{std::move(rp), svc}, &svc, call(seq{})));
      return caf::delegated<caf::message>{};
    } else if constexpr (std::is_void_v<R>) {
      call(seq{});
      return caf::message{};
    } else {
      return reply_message(call(seq{}));
    }
  };
  return h;
}

template <class F>
struct callable_traits : callable_traits<decltype(&F::operator())> {};
template <class C, class R, class... Ps>
struct callable_traits<R (C::*)(Ps...)> {
  using result = R;
  using params = std::tuple<Ps...>;
};
template <class C, class R, class... Ps>
struct callable_traits<R (C::*)(Ps...) const> : callable_traits<R (C::*)(Ps...)> {};
template <class R, class... Ps>
struct callable_traits<R (*)(Ps...)> {
  using result = R;
  using params = std::tuple<Ps...>;
};

template <class Fn, class R, class Params>
struct handler_builder;
template <class Fn, class R, class... Ps>
struct handler_builder<Fn, R, std::tuple<Ps...>> {
  static message_handler make(Service& svc, Fn fn) {
    static_assert(sizeof...(Ps) > 0,
                  "mode: a message handler takes the message's elements "
                  "(at least one; use an atom to name a request)");
    static_assert((!std::is_rvalue_reference_v<Ps> && ...),
                  "mode: take a handler's parameters by value or by (const) reference");
    return make_handler<Fn, R, Ps...>(svc, std::move(fn));
  }
};

}  // namespace mode::detail
