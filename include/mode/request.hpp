// mode::request: from a service's coroutine, ask another service or a plain CAF actor
// and await its reply, with a deadline and typed errors.
//
//   int n = co_await mode::request<int>(counter, 1s, get_atom_v);
//   auto [a, b] = co_await mode::request<std::tuple<int, int>>(actor, 1s, pair_atom_v);
//   co_await mode::request(typed_counter, 1s, add_atom_v, 5);  // reply type deduced
//
// The destination is a ServiceHandle, a std::shared_ptr to a Service (the actor
// hosting it when the request is made: one a supervisor holds, say), a caf::actor or
// a caf::typed_actor (then a
// message the actor does not declare is a compile error, and R is deduced from its
// signature). The reply is read as R: void for an empty reply (a handler returning
// void), a std::tuple for several elements, any other type for one. Errors
// (mode/errors.hpp): TimeoutError after `timeout`; ServiceNotRunning if the service is
// not running or its actor is gone; ServiceCrashed if it crashed; RequestError if the
// handler threw, the actor does not handle the message, or the reply is not an R.
//
// From a plain thread (main, tests), use ServiceHandle::request. From a plain CAF
// actor, use CAF's own request(): a service answers it the same way.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <source_location>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/message.hpp>
#include <caf/response_type.hpp>
#include <caf/typed_actor.hpp>

#include "mode/detail/awaiters.hpp"
#include "mode/detail/reply.hpp"
#include "mode/service_handle.hpp"
#include "mode/times.hpp"

namespace mode {

/// The actor hosting `svc` now; empty if it has none (not spawned yet, or its actor
/// exited and no new one runs yet). From any thread.
caf::actor actor_of(const Service& svc);

namespace detail {

/// What every request awaiter shares: the destination, the message, the deadline and
/// the error; request_awaiter<R> adds the reply. Constructed only on a service's actor
/// (else logic_error).
class message_request : public wait_awaiter {
 public:
  message_request(caf::actor dest, caf::message msg, Seconds timeout, std::source_location where);

 protected:
  /// The actor of the service this request is made from.
  [[nodiscard]] caf::event_based_actor& requester() const noexcept;
  /// Resumes the waiting coroutine, if it still waits (found by `id` in `host`).
  static void finish(coro_host* host, std::uint64_t id, caf::error error) noexcept;
  /// After the wait: throws the typed error if the request failed.
  void throw_if_failed();

  caf::actor dest_;
  caf::message msg_;
  std::chrono::nanoseconds timeout_;
  caf::error error_;
};

/// The host of the service whose actor runs this thread's code; throws logic_error
/// naming `call` when there is none (a plain thread, a plain CAF actor).
coro_host& require_service_host(const char* call);

/// Marks "deduce R from the destination".
struct deduce_reply {};

template <class Outs>
struct reply_of_list;
template <>
struct reply_of_list<caf::detail::type_list<>> {
  using type = void;
};
template <class T>
struct reply_of_list<caf::detail::type_list<T>> {
  using type = T;
};
template <class T, class U, class... Ts>
struct reply_of_list<caf::detail::type_list<T, U, Ts...>> {
  using type = std::tuple<T, U, Ts...>;
};

template <class R, class Dest, class... Ts>
struct reply_type {
  using type = R;
};
template <class Dest, class... Ts>
struct reply_type<deduce_reply, Dest, Ts...> {
  using type = void;  // a dynamically typed destination: ask for R to read the reply
};
template <class... Sigs, class... Ts>
struct reply_type<deduce_reply, caf::typed_actor<Sigs...>, Ts...> {
  using checked =
      caf::response_type<caf::detail::type_list<Sigs...>, caf::detail::strip_and_convert_t<Ts>...>;
  using type = typename reply_of_list<typename checked::type>::type;  // see check_typed
};

inline caf::actor destination(const caf::actor& a) {
  return a;
}
template <class S>
requires std::is_base_of_v<Service, S> caf::actor destination(const std::shared_ptr<S>& s) {
  return actor_of(*s);
}
inline caf::actor destination(const ServiceHandle& h) {
  return h.actor();
}
template <class... Sigs>
caf::actor destination(const caf::typed_actor<Sigs...>& a) {
  return caf::actor_cast<caf::actor>(a);
}

template <class... Sigs, class... Ts>
constexpr void check_typed(const caf::typed_actor<Sigs...>*, const Ts*...) {
  static_assert(caf::response_type<caf::detail::type_list<Sigs...>,
                                   caf::detail::strip_and_convert_t<Ts>...>::valid,
                "mode::request: this typed actor declares no handler for these message elements");
}
template <class Dest, class... Ts>
constexpr void check_typed(const Dest*, const Ts*...) {}

}  // namespace detail

/// `co_await request<R>(dest, timeout, elements...)`: see the top of this header.
template <class R>
class request_awaiter : public detail::message_request {
  static_assert(!std::is_same_v<R, caf::message>,
                "mode::request: name the reply's types (R = T or std::tuple<Ts...>): an "
                "event-based actor's response handler cannot take any message");

 public:
  using detail::message_request::message_request;

  R await_resume() {
    wait_awaiter::await_resume();  // throws CancelledError when its task is cancelled
    throw_if_failed();
    if constexpr (!std::is_void_v<R>)
      return std::move(*reply_);
  }

 protected:
  void on_registered(std::uint64_t id) override {
    auto* host = host_;
    auto on_error = [host, id](caf::error& err) {
      finish(host, id, std::move(err));
    };
    auto handle = requester().request(dest_, timeout_, msg_);
    if constexpr (std::is_void_v<R>) {
      handle.then([host, id] { finish(host, id, {}); }, on_error);
    } else {
      handle.then(reply_handler(host, id, static_cast<R*>(nullptr)), on_error);
    }
  }

 private:
  template <class T>
  static auto reply_handler(detail::coro_host* host, std::uint64_t id, T*) {
    return [host, id](T& value) {
      if (auto* node = host->find(id)) {
        static_cast<request_awaiter*>(node->context)->reply_.emplace(std::move(value));
        finish(host, id, {});
      }
    };
  }
  template <class... Ts>
  static auto reply_handler(detail::coro_host* host, std::uint64_t id, std::tuple<Ts...>*) {
    return [host, id](Ts&... values) {
      if (auto* node = host->find(id)) {
        static_cast<request_awaiter*>(node->context)->reply_.emplace(std::move(values)...);
        finish(host, id, {});
      }
    };
  }

  struct no_reply {};
  std::optional<std::conditional_t<std::is_void_v<R>, no_reply, R>> reply_;
};

/// Sends `xs...` to `dest` as a request from the running service's actor; awaiting it
/// resumes with the reply read as R (see the top of this header).
template <class R = detail::deduce_reply, class Dest, class... Ts>
auto request(const Dest& dest, Seconds timeout, Ts&&... xs) {
  static_assert(sizeof...(Ts) > 0, "mode::request: no message to send");
  detail::check_typed(static_cast<const Dest*>(nullptr),
                      static_cast<const std::decay_t<Ts>*>(nullptr)...);
  using reply = typename detail::reply_type<R, Dest, std::decay_t<Ts>...>::type;
  return request_awaiter<reply>{detail::destination(dest),
                                caf::make_message(std::forward<Ts>(xs)...), timeout,
                                std::source_location::current()};
}

/// A typed handle on a service, for CAF's compile-time checked messaging: a message
/// that `Handle` (a caf::typed_actor<...>) does not declare does not compile. The cast
/// is not checked against the service's handlers (like caf::actor_cast): declare what
/// its add_handler calls take.
template <class Handle>
Handle typed_actor(const ServiceHandle& service) {
  return caf::actor_cast<Handle>(service.actor());
}

}  // namespace mode
