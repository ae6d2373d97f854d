// mode::SyncSignal: mode's synchronous signal (mode/signals.py SyncSignal), for use inside
// one service: `on_stopped.send(this, 303, "sorry")` (or `on_stopped(this, 303, "sorry")`)
// calls every receiver in connect order, in the sender's context. Declaring, senders,
// filters and receivers are BaseSignal's (mode/base_signal.hpp).
#pragma once

#include <concepts>
#include <exception>
#include <functional>
#include <tuple>

#include "mode/base_signal.hpp"

namespace mode {

/// mode's SyncSignal: a synchronous observer for use inside one service (one actor).
/// send() calls the receivers in the caller's context, in connect order (fix: mode used set
/// order), sender first, then the arguments, then the signal (if the receiver takes it).
/// A receiver that throws is logged at error level on the "mode.signals" logger (naming the
/// signal's label and the exception's what()) and the others still run; send() then returns
/// normally (fix: mode skipped the rest and raised). Receivers connected during a send are
/// first called by the next send; receivers disconnected during a send are not called after.
template <class Sender, class... Args>
class SyncSignal
    : public BaseSignal<
          SyncSignal<Sender, Args...>,
          std::function<void(typename detail::sender_traits<Sender>::param_type,
                             detail::param_t<Args>..., const SyncSignal<Sender, Args...>&)>,
          Sender, Args...> {
 public:
  /// The kind shown by to_string() and in errors.
  static constexpr std::string_view kind_name = "SyncSignal";

  using SyncSignal::BaseSignal::BaseSignal;

  /// The base class.
  using base_type = typename SyncSignal::BaseSignal;

  /// How receivers and send() take the sender.
  using sender_param = typename base_type::sender_param;

  /// The sender's filter key.
  using key_type = typename base_type::key_type;

  // -- sending ----------------------------------------------------------------------------

  /// mode: send(sender, *args). Calls every receiver that hears `sender`, in connect order.
  /// A default_sender does not override an explicit sender.
  void send(sender_param sender, detail::param_t<Args>... args) const {
    const key_type& key = base_type::key_of(sender);
    auto& registry = this->registry();
    registry.counters().count_send();
    auto receivers = registry.snapshot(&key);
    for (const auto& e : receivers) {
      if (!e->alive())
        continue;
      try {
        e->fn(sender, args..., *this);
      } catch (...) {
        detail::report_receiver_error(registry.counters(), kind_name, this->label(), e->id,
                                      std::current_exception());
      }
    }
  }

  /// mode: send(*args) on a signal with a default_sender. Throws std::logic_error (mode:
  /// TypeError) if there is none.
  void send(detail::param_t<Args>... args) const {
    auto sender = this->sender_for_send();
    send(base_type::as_param(sender), args...);
  }

  /// mode: __call__. As send(sender, args...).
  void operator()(sender_param sender, detail::param_t<Args>... args) const {
    send(sender, args...);
  }

  /// mode: __call__. As send(args...).
  void operator()(detail::param_t<Args>... args) const { send(args...); }
};

namespace detail {

template <class S, class Tuple>
inline constexpr bool sync_sendable = false;

template <class S, class... A>
inline constexpr bool sync_sendable<S, std::tuple<A...>> = requires(const S& s,
                                                                    typename S::sender_param sender,
                                                                    param_t<A>... args) {
  { s.send(sender, args...) } -> std::same_as<void>;
  { s(sender, args...) } -> std::same_as<void>;
};

}  // namespace detail

/// mode: SyncSignalT. A signal whose send() calls the receivers synchronously.
template <class S>
concept SyncSignalT = BaseSignalT<S> && detail::sync_sendable<S, typename S::args_tuple>;

}  // namespace mode
