// mode::Signal: mode's async signal (mode/signals.py Signal) on CAF actors.
//
// Problem: a service wants to tell other services that something happened and, like mode's
// `await signal.send()`, often wants to go on only once they all reacted; each receiver must run
// where its state lives (its service's actor), and no receiver may hold up or break the others.
//
// A Signal is declared like a SyncSignal (see base_signal.hpp for senders, arguments, filters, weak
// receivers, identity and the receiver registry it shares with SyncSignal):
//
//   class Orders : public mode::Service {
//    public:
//     mode::Signal<Orders*, int> on_order{{.name = "on_order", .owner = "Orders",
//                                          .default_sender = this}};   // label Orders.on_order
//   };
//
// Receivers are callables `R(sender, args...[, const Signal&])` where R is void or
// mode::task<void> (a coroutine receiver); anything else does not compile.
//
// Where a receiver runs (its "home"), decided at connect time:
//   1. bound to a Service (connect(svc_ptr, &S::method), connect(weak_svc, ...), or a raw pointer
//      to a service already owned by a std::shared_ptr): on that service's actor;
//   2. else, connected from a service's actor (e.g. in its on_start): on that service's actor;
//   3. else (no service): where the sender runs -- inline in `co_await send()`, as a message to
//      the sender's own actor for send_nowait() from a service, inline for send_nowait() from a
//      plain thread.
// A service hears signals only while it runs (started, not stopping or stopped), as its tasks
// run only then; a send reaching a service that does not run skips its receivers and counts them
// as done. A receiver whose service object has gone is skipped; a weak one is pruned.
//
// Sending:
//   co_await sig.send(sender, args...);   // on a service's actor: resumes once every receiver
//                                         // connected at the call ran (mode's await semantics)
//   sig.send_nowait(sender, args...);     // from anywhere; returns at once
// Receivers of different services run in parallel, each service's in connect order. Arguments
// are copied into the send (a `T&` argument travels as a reference: keep its object alive until
// the receivers ran), so a fire-and-forget send never dangles.
//
// A receiver that throws is logged on "mode.signals" at error level with the signal's label
// ("Signal 'Orders.on_order': receiver #3 raised std::runtime_error: ..."); the other receivers
// still run, the send still completes, and the receiver's service does NOT crash (a signal is
// a notification, its failure is the receiver's). mode::CancelledError is not caught: it ends
// the receivers of a service that stops.
#pragma once

#include "mode/base_signal.hpp"
#include "mode/detail/actor_job.hpp"
#include "mode/service.hpp"
#include "mode/task.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace caf {
class actor_system;
}  // namespace caf

namespace mode {

// -- transport ----------------------------------------------------------------------------

/// How send_nowait() carries a send to the services that receive it. Both deliver to exactly the
/// receivers connected at send time, with the same rules; they differ in cost (see
/// docs/signals.md for measurements). `co_await send()` always uses `direct`: it needs one
/// acknowledgement per receiving service, which CAF groups cannot give.
enum class signal_transport : std::uint8_t {
  /// One message per receiving service, addressed from the receiver registry. The default.
  direct,
  /// One CAF group broadcast per send: a group per signal for unfiltered receivers and one per
  /// (signal, sender) for filtered ones; a service is a member while it runs and has receivers.
  groups,
};

/// Counts of the CAF group names behind signal_transport::groups in one actor system. CAF never
/// frees a local group, so names come from a pool: a signal returns its names when it goes.
struct signal_group_stats {
  /// Names (so CAF groups) ever made in the system; bounded by the most in use at once.
  std::size_t created = 0;
  /// Names held by live signals now.
  std::size_t in_use = 0;
};

/// The group-name pool of `sys`.
signal_group_stats signal_group_pool_stats(caf::actor_system& sys);

namespace detail {

// -- runtime (actors/signal_runtime.cpp) --------------------------------------------------

/// One send, type-erased: the receivers hearing the sender at send time, grouped into batches
/// by where they run (one service's actor, or where the sender runs), each in connect order.
/// Built in one piece per send, and itself the job that the receiving actors run (slot = batch).
class signal_plan : public actor_job, public std::enable_shared_from_this<signal_plan> {
 public:
  /// The receivers of one send that run in one place.
  struct batch {
    /// The service whose actor runs these receivers; null: where the sender runs.
    std::shared_ptr<Service> home;
    /// Some receiver is a coroutine.
    bool has_async = false;
    /// Some receiver hears every sender (group transport).
    bool has_unfiltered = false;
    /// Some receiver hears only this send's sender (group transport).
    bool has_filtered = false;
    /// The batch's receivers: [first, last) of the plan's list.
    std::uint32_t first = 0;
    std::uint32_t last = 0;
  };

  /// Calls the receivers of batch `i` now (only when none is a coroutine); exceptions are
  /// logged.
  virtual void run_batch_sync(std::size_t i) = 0;

  /// Runs the receivers of batch `i` in order, awaiting coroutine receivers; exceptions other
  /// than CancelledError are logged. The plan must outlive the task.
  virtual task<void> run_batch(std::size_t i) = 0;

  /// The signal's label.
  virtual std::string label() const = 0;

  /// Counts and logs a receiver of this send that failed outside its own code (e.g. a
  /// coroutine receiver nothing can resume).
  virtual void report_dropped(std::exception_ptr error) const = 0;

  /// Runs batch `slot` on `self` (its home); for no_slot (a group broadcast), the batch of
  /// `self`'s service if no other message of this send claimed it first. Defined in
  /// actors/signal_runtime.cpp.
  void run(service_actor& self, std::uint32_t slot, caf::response_promise rp) final;

  /// Makes claim() usable; call once, before the plan is shared (group transport).
  void enable_claims() { claimed_ = std::make_unique<std::atomic<bool>[]>(batches.size()); }

  /// True if the caller is the first to claim batch `i` (see enable_claims()).
  bool claim(std::size_t i) noexcept {
    return !claimed_[i].exchange(true, std::memory_order_acq_rel);
  }

  /// The batches, in connect order of each batch's first receiver.
  std::vector<batch> batches;

 private:
  std::unique_ptr<std::atomic<bool>[]> claimed_;
};

using signal_plan_ptr = std::shared_ptr<signal_plan>;

/// One CAF group of a signal family (defined in actors/signal_runtime.hpp).
struct group_slot;

using group_slot_ptr = std::shared_ptr<group_slot>;

/// The service whose actor runs the calling code, or null.
std::shared_ptr<Service> signal_current_service() noexcept;

/// Runs `plan` (null: nothing to run) and resumes when every batch ran (on a service's actor
/// only).
task<void> signal_await(signal_plan_ptr plan);

/// Starts `plan` (non-null) without waiting (signal_transport::direct).
void signal_post(signal_plan_ptr plan);

/// Starts `plan` (non-null) by broadcasting it to `targets` (signal_transport::groups); the batch
/// without a service goes as with signal_post().
void signal_post_groups(signal_plan_ptr plan, const std::vector<group_slot_ptr>& targets);

/// Makes `slot` the group of exactly `homes` (creating it, with a name from the pool, if
/// needed); releases it when `homes` is empty.
void group_slot_assign(group_slot_ptr& slot, const std::vector<Service*>& homes);

/// Group slots of one signal family, kept in the registry's extension slot.
template <class Key>
struct signal_group_family {
  /// The group of the receivers filtered on one sender.
  struct sender_slot {
    group_slot_ptr slot;
    /// The registry version its members were derived from.
    std::uint64_t version = 0;
  };
  /// Guards the slots; taken before any service's signal_home.
  std::mutex mtx;
  /// The group of the unfiltered receivers, and the registry version its members came from.
  group_slot_ptr unfiltered;
  std::optional<std::uint64_t> unfiltered_version;
  /// One group per sender that has filtered receivers on some service (dropped with the last).
  std::unordered_map<Key, sender_slot> by_sender;
};

// -- arguments ----------------------------------------------------------------------------

/// A `T&` argument kept by an async send: the address (the object must outlive the receivers).
template <class T>
struct stored_ref {
  T* ptr;
};

template <class A>
inline constexpr bool is_mutable_ref =
    std::is_lvalue_reference_v<A> && !std::is_const_v<std::remove_reference_t<A>>;

/// How an async send keeps an argument declared `A`: a copy, or the address of a `T&`.
template <class A>
using stored_t = std::conditional_t<is_mutable_ref<A>, stored_ref<std::remove_reference_t<A>>,
                                    std::remove_cvref_t<A>>;

template <class A>
stored_t<A> store_arg(param_t<A> x) {
  if constexpr (is_mutable_ref<A>)
    return stored_t<A>{std::addressof(x)};
  else
    return stored_t<A>(x);
}

template <class T>
T& unstore_arg(const stored_ref<T>& x) noexcept {
  return *x.ptr;
}

template <class T>
const T& unstore_arg(const T& x) noexcept {
  return x;
}

/// An argument type an async send can keep: a `T&`, or a copyable value.
template <class A>
concept storable_arg = is_mutable_ref<A> || std::copy_constructible<std::remove_cvref_t<A>>;

// -- receivers ----------------------------------------------------------------------------

/// The type-erased receiver of a Signal: a plain function or a coroutine returning task<void>.
template <class Sig, class SenderParam, class... Ps>
class async_receiver {
 public:
  /// Wraps `f`, a callable `R(SenderParam, Ps..., const Sig&)` with R void or task<void>.
  template <class F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, async_receiver>)
      async_receiver(F&& f) {  // NOLINT(google-explicit-constructor): built by BaseSignal::connect
    using result = std::invoke_result_t<std::decay_t<F>&, SenderParam, Ps..., const Sig&>;
    static_assert(std::is_void_v<result> || std::is_same_v<result, task<void>>,
                  "a Signal receiver returns void or mode::task<void>");
    if constexpr (std::is_void_v<result>)
      sync_ = std::forward<F>(f);
    else
      async_ = std::forward<F>(f);
  }

  /// True for coroutine receivers.
  bool is_async() const noexcept { return static_cast<bool>(async_); }

  /// Calls a plain receiver.
  void call(SenderParam s, Ps... xs, const Sig& sig) const { sync_(s, xs..., sig); }

  /// Calls a coroutine receiver; an invalid task means "nothing to run" (its object has gone).
  task<void> call_async(SenderParam s, Ps... xs, const Sig& sig) const {
    return async_(s, xs..., sig);
  }

 private:
  std::function<void(SenderParam, Ps..., const Sig&)> sync_;
  std::function<task<void>(SenderParam, Ps..., const Sig&)> async_;
};

}  // namespace detail

// -- Signal -------------------------------------------------------------------------------

/// mode's Signal: an asynchronous observer whose receivers run on their services' actors (see
/// the top of this header). Fields, connect/disconnect, filters, weak receivers, clone and
/// with_default_sender are BaseSignal's (base_signal.hpp); `connect_options::owner` is not used:
/// the home rules above decide where a receiver runs.
template <class Sender, class... Args>
class Signal
    : public BaseSignal<Signal<Sender, Args...>,
                        detail::async_receiver<Signal<Sender, Args...>,
                                               typename detail::sender_traits<Sender>::param_type,
                                               detail::param_t<Args>...>,
                        Sender, Args...> {
  static_assert((detail::storable_arg<Args> && ...),
                "a Signal keeps its arguments until the receivers ran: declare them as copyable "
                "values, const T&, or T& (kept by address)");

 public:
  /// The kind shown by to_string() and in errors.
  static constexpr std::string_view kind_name = "Signal";

  /// BaseSignal's constructors: `Signal<X*> s{"name", "Owner"};`, `Signal<X*> s{{.name = ...}};`.
  using Signal::BaseSignal::BaseSignal;

  /// The base class.
  using base_type = typename Signal::BaseSignal;

  /// How receivers and send() take the sender.
  using sender_param = typename base_type::sender_param;

  /// How a sender is stored.
  using sender_value = typename base_type::sender_value;

  /// The sender's filter key.
  using key_type = typename base_type::key_type;

  /// mode: connect(fun, weak=, sender=).
  using options = typename base_type::options;

  /// mode: clone(**kwargs).
  using overrides_type = typename base_type::overrides_type;

  /// One connected receiver.
  using entry_ptr = typename base_type::entry_ptr;

  // -- transport --------------------------------------------------------------------------

  /// How send_nowait() travels. Default: signal_transport::direct. Copied by clone() and
  /// with_default_sender(); set it before sending from other threads.
  signal_transport transport() const noexcept { return transport_; }

  /// Sets transport().
  void set_transport(signal_transport t) noexcept { transport_ = t; }

  // -- cloning ----------------------------------------------------------------------------

  /// mode: clone(). Same fields and transport, no receivers.
  Signal clone() const { return clone(overrides_type{}); }

  /// mode: clone(**kwargs).
  Signal clone(const overrides_type& overrides) const {
    Signal result = base_type::clone(overrides);
    result.transport_ = transport_;
    return result;
  }

  /// mode: with_default_sender(None). A copy sharing the receivers.
  Signal with_default_sender() const {
    Signal result = base_type::with_default_sender();
    result.transport_ = transport_;
    return result;
  }

  /// mode: with_default_sender(sender). A copy sending as `sender`, sharing the receivers.
  Signal with_default_sender(sender_param sender) const {
    Signal result = base_type::with_default_sender(sender);
    result.transport_ = transport_;
    return result;
  }

  // -- connecting -------------------------------------------------------------------------

  /// mode: connect(fun, weak=False, sender=None). A function, lambda or function object: runs on
  /// the service connecting it (rule 2), else where the sender runs (rule 3). See
  /// BaseSignal::connect for identity and errors.
  template <detail::callable_receiver<Signal, sender_param, detail::param_t<Args>...> F>
  receiver_id connect(F&& fun, options opts = {}) {
    opts.owner = home_token(detail::signal_current_service());
    return base_type::connect(std::forward<F>(fun), opts);
  }

  /// Member function `method` of `*object` (non-owning). A Service object must already be owned
  /// by a std::shared_ptr (std::invalid_argument otherwise, e.g. from its constructor: connect in
  /// on_start instead); it then runs on that service (rule 1).
  template <class T, detail::method_receiver<Signal, T, sender_param, detail::param_t<Args>...> M>
  receiver_id connect(T* object, M method, options opts = {}) {
    auto home = service_of(object);
    if constexpr (std::is_base_of_v<Service, std::remove_cv_t<T>>)
      if (object != nullptr && home == nullptr)
        throw std::invalid_argument(fmt::format(
            "Signal '{}': connect() got a service that no std::shared_ptr owns yet (a receiver "
            "connected in its constructor has no actor to run on): connect in on_start, or "
            "pass the std::shared_ptr",
            this->label()));
    opts.owner = home_token(home ? home : detail::signal_current_service());
    return base_type::connect(object, method, opts);
  }

  /// Member function `method` of `*object`, strongly or (weak=true) weakly; a Service object
  /// runs it (rule 1).
  template <class T, detail::method_receiver<Signal, T, sender_param, detail::param_t<Args>...> M>
  receiver_id connect(const std::shared_ptr<T>& object, M method, options opts = {}) {
    opts.owner = bound_token(object);
    return base_type::connect(object, method, opts);
  }

  /// Member function `method` of `*object`, always weakly.
  template <class T, detail::method_receiver<Signal, T, sender_param, detail::param_t<Args>...> M>
  receiver_id connect(const std::weak_ptr<T>& object, M method, options opts = {}) {
    opts.owner = bound_token(object.lock());
    return base_type::connect(object, method, opts);
  }

  /// A callable bound to `*object`, called as `fun(object, sender, args...[, signal])`; a
  /// Service object runs it (rule 1): `sig.connect(svc, [](MySvc& self, X* s, int v) {...})`.
  template <class T, detail::bound_receiver<Signal, T, sender_param, detail::param_t<Args>...> F>
  receiver_id connect(const std::shared_ptr<T>& object, F&& fun, options opts = {}) {
    opts.owner = bound_token(object);
    return base_type::connect(object, std::forward<F>(fun), opts);
  }

  /// A callable bound to `*object`, always weakly.
  template <class T, detail::bound_receiver<Signal, T, sender_param, detail::param_t<Args>...> F>
  receiver_id connect(const std::weak_ptr<T>& object, F&& fun, options opts = {}) {
    opts.owner = bound_token(object.lock());
    return base_type::connect(object, std::forward<F>(fun), opts);
  }

  // -- disconnecting ----------------------------------------------------------------------

  /// BaseSignal's disconnect(id), disconnect(&fun, opts) and disconnect(object, &T::method, opts).
  using base_type::disconnect;

  /// Disconnects every receiver that runs on `svc` (its home); returns how many.
  std::size_t disconnect_service(const Service& svc) {
    auto strong = std::const_pointer_cast<Service>(svc.weak_from_this().lock());
    if (!strong)
      return 0;
    return this->registry().remove_owner(std::weak_ptr<void>{std::shared_ptr<void>{strong}});
  }

  // -- sending ----------------------------------------------------------------------------

  /// mode: `await send(sender, *args)`. Takes the receivers hearing `sender` now; awaiting the
  /// task runs them and resumes once all ran (each service's in connect order, services in
  /// parallel; receivers without a service inline, in order). Await it on a service's actor
  /// (std::logic_error otherwise: use send_nowait()). A receiver whose service does not run, or
  /// whose actor has gone, counts as done.
  task<void> send(sender_param sender, detail::param_t<Args>... args) const {
    return detail::signal_await(plan(sender, args...));
  }

  /// mode: `await send(*args)` on a signal with a default sender (std::logic_error without).
  task<void> send(detail::param_t<Args>... args) const {
    auto sender = this->sender_for_send();
    return send(base_type::as_param(sender), args...);
  }

  /// mode: `await signal(...)`. As send(sender, args...).
  task<void> operator()(sender_param sender, detail::param_t<Args>... args) const {
    return send(sender, args...);
  }

  /// mode: `await signal(...)`. As send(args...).
  task<void> operator()(detail::param_t<Args>... args) const { return send(args...); }

  /// Fire and forget: starts the receivers hearing `sender` now and returns at once (from any
  /// thread). Receivers without a service run inline when called from outside any service's
  /// actor, else on the caller's actor after the current handler.
  void send_nowait(sender_param sender, detail::param_t<Args>... args) const {
    static_assert(!(detail::is_mutable_ref<Args> || ...),
                  "mode::Signal::send_nowait: a T& argument would be read by receivers that run "
                  "later, after the caller's object may be gone; co_await send(...) instead "
                  "(it returns when the receivers are done), or declare the argument by value");
    if (transport_ == signal_transport::groups)
      post_groups(sender, args...);
    else if (auto work = plan(sender, args...))
      detail::signal_post(std::move(work));
  }

  /// Fire and forget with the default sender (std::logic_error without one).
  void send_nowait(detail::param_t<Args>... args) const {
    auto sender = this->sender_for_send();
    send_nowait(base_type::as_param(sender), args...);
  }

 private:
  using entry = typename base_type::registry_type::entry;

  // One send: what it keeps until its receivers ran, and its receivers by batch.
  class plan_type final : public detail::signal_plan {
   public:
    plan_type(const Signal& sig, sender_param s, detail::param_t<Args>... xs)
        : signal_(sig.base_type::with_default_sender()),
          sender_(base_type::value_of(s)),
          args_(detail::store_arg<Args>(xs)...) {}

    // Groups `receivers` into batches by home, keeping connect order within each.
    void build(typename base_type::snapshot_type receivers) {
      constexpr auto skipped = UINT32_MAX;
      // Each receiver's batch (on the stack for the usual few receivers).
      std::array<std::uint32_t, 32> small;
      std::unique_ptr<std::uint32_t[]> large;
      auto* batch_of = small.data();
      if (receivers.size() > small.size()) {
        large = std::make_unique<std::uint32_t[]>(receivers.size());
        batch_of = large.get();
      }
      bool all_placed = true;
      for (std::size_t k = 0; k < receivers.size(); ++k) {
        const auto& e = receivers[k];
        std::shared_ptr<Service> home;
        if (!detail::is_empty_token(e->owner)) {
          auto token = e->owner.lock();
          if (token.use_count() == 0) {  // its service (or bound object) has gone
            batch_of[k] = skipped;
            all_placed = false;
            continue;
          }
          if (token != nullptr)
            home = std::shared_ptr<Service>(token, static_cast<Service*>(token.get()));
        }
        auto i = std::find_if(batches.begin(), batches.end(),
                              [&](const batch& b) { return b.home == home; });
        if (i == batches.end()) {
          batches.push_back(batch{std::move(home)});
          i = std::prev(batches.end());
        }
        i->has_async = i->has_async || e->fn.is_async();
        if (e->sender)
          i->has_filtered = true;
        else
          i->has_unfiltered = true;
        ++i->last;  // a count until the ranges are laid out below
        batch_of[k] = static_cast<std::uint32_t>(i - batches.begin());
      }
      if (batches.size() == 1 && all_placed) {  // the usual case: already in order
        entries_ = std::move(receivers);
        return;
      }
      // A stable counting sort: counts to ranges, then each receiver to its batch's range.
      std::uint32_t offset = 0;
      for (auto& b : batches) {
        b.first = offset;
        offset += b.last;
        b.last = b.first;
      }
      entries_.resize(offset);
      for (std::size_t k = 0; k < receivers.size(); ++k)
        if (batch_of[k] != skipped)
          entries_[batches[batch_of[k]].last++] = std::move(receivers[k]);
    }

    void run_batch_sync(std::size_t i) override {
      for (auto k = batches[i].first; k < batches[i].last; ++k) {
        const auto& e = *entries_[k];
        if (!e.alive())
          continue;
        try {
          call(e);
        } catch (...) {
          report(e, std::current_exception());
        }
      }
    }

    task<void> run_batch(std::size_t i) override {
      for (auto k = batches[i].first; k < batches[i].last; ++k) {
        const auto& e = *entries_[k];
        if (!e.alive())
          continue;
        std::exception_ptr error;
        try {
          if (e.fn.is_async()) {
            auto t = call_async(e);
            if (t.valid())
              co_await std::move(t);
          } else {
            call(e);
          }
        } catch (const CancelledError&) {
          throw;
        } catch (...) {
          error = std::current_exception();
        }
        if (error)
          report(e, error);
      }
    }

    std::string label() const override { return signal_.label(); }

   private:
    void call(const entry& e) const {
      std::apply(
          [&](const auto&... xs) {
            e.fn.call(base_type::as_param(sender_), detail::unstore_arg(xs)..., signal_);
          },
          args_);
    }

    task<void> call_async(const entry& e) const {
      return std::apply(
          [&](const auto&... xs) {
            return e.fn.call_async(base_type::as_param(sender_), detail::unstore_arg(xs)...,
                                   signal_);
          },
          args_);
    }

    void report(const entry& e, std::exception_ptr error) const {
      detail::report_receiver_error(signal_.registry().counters(), kind_name, signal_.label(), e.id,
                                    std::move(error));
    }

    void report_dropped(std::exception_ptr error) const override {
      detail::report_receiver_error(signal_.registry().counters(), kind_name, signal_.label(),
                                    receiver_id{}, std::move(error));
    }

    Signal signal_;  // receivers see this copy: same fields, same receivers
    sender_value sender_;
    std::tuple<detail::stored_t<Args>...> args_;
    std::vector<entry_ptr> entries_;
  };

  using group_family = detail::signal_group_family<key_type>;

  // The receivers hearing `sender` now, grouped by where they run; null if there are none.
  std::shared_ptr<plan_type> plan(sender_param sender, detail::param_t<Args>... args) const {
    const key_type& key = base_type::key_of(sender);
    this->registry().counters().count_send();
    auto receivers = this->registry().snapshot(&key);
    if (receivers.empty())
      return nullptr;
    auto result = std::make_shared<plan_type>(*this, sender, args...);
    result->build(std::move(receivers));
    return result;
  }

  void post_groups(sender_param sender, detail::param_t<Args>... args) const {
    // Read before the snapshot: a change in between makes the next send reconcile again.
    auto version = this->registry().version();
    auto work = plan(sender, args...);
    if (!work)
      return;
    std::vector<Service*> unfiltered;
    std::vector<Service*> filtered;
    for (const auto& b : work->batches) {
      if (!b.home)
        continue;
      if (b.has_unfiltered)
        unfiltered.push_back(b.home.get());
      if (b.has_filtered)
        filtered.push_back(b.home.get());
    }
    auto family = this->registry().template extension<group_family>(
        [] { return std::make_shared<group_family>(); });
    std::vector<detail::group_slot_ptr> targets;
    {
      std::lock_guard<std::mutex> guard{family->mtx};
      if (family->unfiltered_version != version) {
        detail::group_slot_assign(family->unfiltered, unfiltered);
        family->unfiltered_version = version;
      }
      if (family->unfiltered && !unfiltered.empty())
        targets.push_back(family->unfiltered);
      const key_type& key = base_type::key_of(sender);
      if (filtered.empty()) {
        family->by_sender.erase(key);
      } else {
        auto& slot = family->by_sender[key];
        if (!slot.slot || slot.version != version) {
          detail::group_slot_assign(slot.slot, filtered);
          slot.version = version;
        }
        if (slot.slot)
          targets.push_back(slot.slot);
      }
    }
    detail::signal_post_groups(std::move(work), targets);
  }

  // The owner token of a receiver running on `home` (null: none).
  static std::weak_ptr<void> home_token(const std::shared_ptr<Service>& home) {
    if (!home)
      return {};
    return std::weak_ptr<void>{std::shared_ptr<void>{home}};
  }

  // The owner token of a receiver bound to `object`: its service (rule 1), else the connecting
  // service (rule 2), else none -- kept on the object's control block with a null pointer, so
  // that BaseSignal does not take the object itself for a service.
  template <class T>
  static std::weak_ptr<void> bound_token(const std::shared_ptr<T>& object) {
    if (!object)
      return {};  // BaseSignal rejects it
    auto home = service_of(object.get());
    if (!home)
      home = detail::signal_current_service();
    if (home)
      return home_token(home);
    auto mutable_object = std::const_pointer_cast<std::remove_cv_t<T>>(object);
    return std::weak_ptr<void>{std::shared_ptr<void>{mutable_object, nullptr}};
  }

  template <class T>
  static std::shared_ptr<Service> service_of(T* object) {
    if constexpr (std::is_base_of_v<Service, std::remove_cv_t<T>>) {
      if (object != nullptr)
        return std::const_pointer_cast<Service>(
            std::shared_ptr<const Service>{object->weak_from_this().lock()});
    }
    return nullptr;
  }

  signal_transport transport_ = signal_transport::direct;
};

// -- concepts (mode's abstract types) -----------------------------------------------------

namespace detail {

template <class S, class Tuple>
inline constexpr bool async_sendable = false;

template <class S, class... A>
inline constexpr bool async_sendable<S, std::tuple<A...>> =
    requires(const S& s, typename S::sender_param sender, param_t<A>... args) {
  { s.send(sender, args...) } -> std::same_as<task<void>>;
  { s(sender, args...) } -> std::same_as<task<void>>;
  { s.send_nowait(sender, args...) } -> std::same_as<void>;
};

}  // namespace detail

/// mode: SignalT. A signal whose send() is awaited and whose receivers run on their services'
/// actors.
template <class S>
concept SignalT = BaseSignalT<S> && detail::async_sendable<S, typename S::args_tuple>;

}  // namespace mode
