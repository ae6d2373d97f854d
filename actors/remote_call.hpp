// A request to an actor on another node that ends as soon as that actor or its node is
// gone. CAF 0.17.6 answers a request in flight to a proxy whose connection closed only
// at the request's deadline; a helper actor monitors the target meanwhile and answers
// request_receiver_down on its down message. Private to the library.
#pragma once

#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/message.hpp>
#include <caf/response_promise.hpp>
#include <caf/sec.hpp>

#include "mode/times.hpp"

namespace mode::detail {

/// What a remote call's helper is asked: once, then it quits.
using remote_call_atom = caf::atom_constant<caf::atom("m_rcall")>;

/// CAF's deadline for a remote call of `timeout` (milliseconds, rounded up).
caf::duration remote_deadline(Seconds timeout);

/// How long to wait for a helper of a call of `timeout`: it answers by `timeout`; the
/// margin is for a machine under load.
inline Seconds helper_deadline(Seconds timeout) {
  return Seconds{timeout.count() * 2 + 5.0};
}

/// How a remote call's helper answers: as the target did (its reply, or its error), or
/// with the pair (error, reply as a message) for a caller that takes errors as values.
enum class remote_answer { as_target, error_and_reply };

/// Spawns a helper that, asked `remote_call_atom`, sends `msg` to `target` and answers
/// with the target's reply (its elements read as Ts...: an empty list for an empty
/// reply), the target's error, sec::request_timeout after `timeout`, or
/// sec::request_receiver_down as soon as the target goes down; `Shape` says how. Ask it
/// with a deadline longer than `timeout`: the helper answers by then.
template <remote_answer Shape, class... Ts>
caf::actor spawn_remote_call(caf::actor_system& sys, caf::actor target, Seconds timeout,
                             caf::message msg) {
  // (The state travels as spawn arguments: CAF 0.17.6's factory for a function actor
  // without any binds a null tuple pointer, which UBSan reports.)
  auto helper = [](caf::event_based_actor* self, caf::actor target, Seconds timeout,
                   caf::message msg) -> caf::behavior {
    return {[self, target, timeout, msg](remote_call_atom) {
      auto rp = self->make_response_promise();
      auto fail = [](caf::response_promise& promise, caf::error err) {
        if constexpr (Shape == remote_answer::as_target)
          promise.deliver(std::move(err));
        else
          promise.deliver(std::move(err), caf::message{});
      };
      self->monitor(target);
      self->set_down_handler([self, rp, fail](caf::down_msg&) {
        auto promise = rp;  // (CAF calls a down handler as const)
        fail(promise, caf::make_error(caf::sec::request_receiver_down));
        self->quit();
      });
      self->request(target, remote_deadline(timeout), msg)
          .then(
              [self, rp](Ts&... xs) mutable {
                if constexpr (Shape == remote_answer::error_and_reply)
                  rp.deliver(caf::error{}, caf::make_message(std::move(xs)...));
                else if constexpr (sizeof...(Ts) == 0)
                  rp.deliver(caf::unit);
                else
                  rp.deliver(std::move(xs)...);
                self->quit();
              },
              [self, rp, fail](caf::error& err) mutable {
                fail(rp, std::move(err));
                self->quit();
              });
      return rp;
    }};
  };
  return sys.spawn(helper, std::move(target), timeout, std::move(msg));
}

}  // namespace mode::detail
