// mode::BaseSignal: what mode's two signal kinds share (mode/signals.py BaseSignal):
// declaration, senders and filtering, receivers, labels and cloning. The kinds are
// mode::SyncSignal (mode/sync_signal.hpp: receivers called in the sender's context) and
// mode::Signal (mode/signal.hpp: receivers run on their services' actors).
//
// A signal is declared with its sender type and argument list, e.g.
//
//   SyncSignal<Service*, int, const std::string&> on_stopped{"on_stopped", "MyService"};
//
// and its receivers are callables `void(Service* sender, int, const std::string&, const
// SyncSignal<...>& signal)` or the same without the trailing signal parameter (both detected at
// compile time; anything else does not compile).
//
// Senders and filtering. A receiver connected with a sender (or on a signal that has a
// default_sender) only hears that sender. The filter key is the sender's identity, typed by the
// signal's Sender parameter (fix: mode filters on hash(), so 1, True and 1.0 collide):
//   Sender      | stored as (sender_value) | receivers get (sender_param) | filter key
//   T*          | T*                       | T*                           | the pointer
//   T&          | T* (never null)          | T&                           | std::addressof
//   shared_ptr  | std::shared_ptr<T>       | const std::shared_ptr<T>&    | get()
//   value V     | V                        | const V&                     | the value (std::hash,
//   ==)
// Pointer-like keys are addresses: a filter on an object that died hears whatever object is later
// built at the same address (as in mode, where id() is reused). weak_ptr/unique_ptr senders are
// rejected at compile time.
//
// Arguments are passed to receivers as lvalues: an argument type `A` that is a reference is
// passed as declared, any other as `const A&`; receivers may take them by value.
//
// The receiver registry (detail/signal_registry.hpp) is shared by a signal and its
// with_default_sender() copies and is thread-safe, so the async Signal can reuse it.
#pragma once

#include "mode/detail/demangle.hpp"
#include "mode/detail/signal_registry.hpp"

#include <fmt/format.h>

#include <concepts>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>

namespace mode {

/// Name of the spdlog logger that reports receivers that threw ("mode.signals"). Looked up
/// (spdlog::get) at every report; when absent it is created with the default logger's sinks.
inline constexpr std::string_view signals_logger_name = "mode.signals";

namespace detail {

// -- argument passing ---------------------------------------------------------------------

/// How receivers get an argument declared as `A`: references as declared, values as `const A&`.
template <class A>
using param_t = std::conditional_t<std::is_reference_v<A>, A, const A&>;

template <class T>
inline constexpr bool always_false = false;

template <class T>
inline constexpr bool is_shared_ptr = false;

template <class T>
inline constexpr bool is_shared_ptr<std::shared_ptr<T>> = true;

// -- senders ------------------------------------------------------------------------------

/// A sender passed by value and filtered on its value.
template <class S>
concept value_sender = std::copy_constructible<S> && std::equality_comparable<S> &&
    requires(const S& s) {
  { std::hash<S>{}(s) } -> std::convertible_to<std::size_t>;
};

/// Sender representation (see the table atop this header). Value senders.
template <class Sender>
struct sender_traits {
  static_assert(!std::is_const_v<Sender> && !std::is_volatile_v<Sender>,
                "declare the Sender without cv-qualifiers");
  static_assert(value_sender<Sender>,
                "a value Sender needs copy, == and std::hash; otherwise use T*, T& or "
                "std::shared_ptr<T> as the Sender");
  using value_type = Sender;
  using param_type = const Sender&;
  using key_type = Sender;
  static const key_type& key_of_param(param_type s) noexcept { return s; }
  static const key_type& key_of_value(const value_type& v) noexcept { return v; }
  static param_type param_of(const value_type& v) noexcept { return v; }
  static value_type value_of(param_type s) { return s; }
  static bool valid(const value_type&) noexcept { return true; }
};

/// Pointer senders: the pointer is the identity.
template <class T>
struct sender_traits<T*> {
  using value_type = T*;
  using param_type = T*;
  using key_type = const T*;
  static key_type key_of_param(param_type s) noexcept { return s; }
  static key_type key_of_value(const value_type& v) noexcept { return v; }
  static param_type param_of(const value_type& v) noexcept { return v; }
  static value_type value_of(param_type s) noexcept { return s; }
  static bool valid(const value_type&) noexcept { return true; }
};

/// Reference senders: stored as a (non-null) pointer, identity is the address.
template <class T>
struct sender_traits<T&> {
  using value_type = T*;
  using param_type = T&;
  using key_type = const T*;
  static key_type key_of_param(param_type s) noexcept { return std::addressof(s); }
  static key_type key_of_value(const value_type& v) noexcept { return v; }
  static param_type param_of(const value_type& v) noexcept { return *v; }
  static value_type value_of(param_type s) noexcept { return std::addressof(s); }
  static bool valid(const value_type& v) noexcept { return v != nullptr; }
};

/// shared_ptr senders: identity is the object's address.
template <class T>
struct sender_traits<std::shared_ptr<T>> {
  using value_type = std::shared_ptr<T>;
  using param_type = const std::shared_ptr<T>&;
  using key_type = const T*;
  static key_type key_of_param(param_type s) noexcept { return s.get(); }
  static key_type key_of_value(const value_type& v) noexcept { return v.get(); }
  static param_type param_of(const value_type& v) noexcept { return v; }
  static value_type value_of(param_type s) { return s; }
  static bool valid(const value_type&) noexcept { return true; }
};

template <class T>
struct sender_traits<std::weak_ptr<T>> {
  static_assert(always_false<T>,
                "a weak_ptr has no stable identity to filter on: use std::shared_ptr<T> or T*");
};

template <class T, class D>
struct sender_traits<std::unique_ptr<T, D>> {
  static_assert(always_false<T>, "a unique_ptr cannot be copied to receivers: use T* or T&");
};

// -- receivers ----------------------------------------------------------------------------

/// F can be called with `Ps...` followed by the signal, or with `Ps...` alone.
template <class F, class Signal, class... Ps>
concept receiver_for = std::invocable<F&, Ps..., const Signal&> || std::invocable<F&, Ps...>;

/// A function, lambda or function object receiver (not a member-function pointer).
template <class F, class Signal, class... Ps>
concept callable_receiver = !std::is_member_function_pointer_v<std::decay_t<F>> &&
                            receiver_for<std::decay_t<F>, Signal, Ps...>;

/// A member function of T receiving `Ps...` (and maybe the signal).
template <class M, class Signal, class T, class... Ps>
concept method_receiver =
    std::is_member_function_pointer_v<M> && receiver_for<M, Signal, T*, Ps...>;

/// A callable bound to an object of type T, taking it first as `const std::shared_ptr<T>&`
/// or as `T&`.
template <class F, class Signal, class T, class... Ps>
concept bound_receiver = !std::is_member_function_pointer_v<std::decay_t<F>> &&
                         (receiver_for<std::decay_t<F>, Signal, const std::shared_ptr<T>&, Ps...> ||
                          receiver_for<std::decay_t<F>, Signal, T&, Ps...>);

/// Neither a receiver_id nor a function pointer: a lambda or function object, which
/// disconnect() cannot find.
template <class F>
concept without_identity = !std::is_same_v<std::decay_t<F>, receiver_id> &&
                           !std::is_function_v<std::remove_pointer_t<std::decay_t<F>>>;

/// Calls `f(xs..., sig)` if F takes the signal, else `f(xs...)`.
template <class Signal, class F, class... Xs>
decltype(auto) dispatch(F& f, const Signal& sig, Xs&&... xs) {
  if constexpr (std::is_invocable_v<F&, Xs..., const Signal&>)
    return std::invoke(f, std::forward<Xs>(xs)..., sig);
  else
    return std::invoke(f, std::forward<Xs>(xs)...);
}

/// What a weak receiver whose object has gone returns: nothing, or a default R.
template <class R>
R dead_result() {
  if constexpr (!std::is_void_v<R>)
    return R{};
}

/// Tags every signal type (for the fmt formatter and the concepts).
struct signal_tag {};

/// Renders a sender for to_string(): pointers as addresses, formattable values with fmt, others
/// by their type.
template <class V>
std::string format_sender(const V& v) {
  if constexpr (std::is_pointer_v<V>)
    return fmt::format("{}", fmt::ptr(v));
  else if constexpr (is_shared_ptr<V>)
    return fmt::format("{}", fmt::ptr(v.get()));
  else if constexpr (fmt::is_formattable<V>::value)
    return fmt::format("{}", v);
  else
    return "<" + demangle(typeid(V).name()) + ">";
}

/// Reports (never throws) a receiver that threw: counts it in `counters` and logs it at error
/// level on the "mode.signals" logger, naming the signal's kind and label, the receiver id and
/// the exception's type and what().
void report_receiver_error(signal_counters& counters, std::string_view kind, std::string_view label,
                           receiver_id id, std::exception_ptr error) noexcept;

}  // namespace detail

// -- options ------------------------------------------------------------------------------

/// A signal's own fields (mode: the keyword arguments of BaseSignal, and asdict()). Also the
/// designated-initializer form of construction:
/// `SyncSignal<X*> on_started{{.name = "on_started", .owner = "X", .default_sender = this}};`
template <class SenderValue>
struct signal_fields {
  /// mode: name. Default: empty.
  std::string name;

  /// mode: owner (the class the signal is declared in; here its label). Default: empty.
  std::string owner;

  /// mode: default_sender. When set, send() without a sender sends as it and every
  /// connect/disconnect filters on it. Default: none.
  std::optional<SenderValue> default_sender = std::nullopt;

  friend bool operator==(const signal_fields&, const signal_fields&) = default;
};

/// Fields to replace in clone() (mode: clone(**kwargs)); unset ones are copied.
template <class SenderValue>
struct signal_overrides {
  /// Replaces name when set.
  std::optional<std::string> name = std::nullopt;

  /// Replaces owner when set.
  std::optional<std::string> owner = std::nullopt;

  /// Replaces default_sender when set (to drop a default sender, construct a signal from a
  /// modified asdict() instead).
  std::optional<SenderValue> default_sender = std::nullopt;
};

/// Options of connect() and disconnect() (mode: connect(fun, weak=False, sender=None)).
template <class SenderValue>
struct connect_options {
  /// mode: weak. Default: false. With true, a receiver bound to a std::shared_ptr keeps only a
  /// weak reference to its object and is pruned once the object is gone (a std::weak_ptr is
  /// always weak). A free function or lambda cannot be weak: std::invalid_argument. Ignored by
  /// disconnect(): identity alone decides.
  bool weak = false;

  /// mode: sender. Default: none (hear every sender). When set, the receiver only hears this
  /// sender; a signal's default_sender takes precedence over it, as in mode.
  std::optional<SenderValue> sender = std::nullopt;

  /// Hook for the async Signal: the token of whoever owns the receiver (e.g. its Service),
  /// stored in the registry entry. Default: none, or for receivers bound to a shared_ptr or
  /// weak_ptr, that object. Ignored by disconnect().
  std::weak_ptr<void> owner = {};
};

// -- BaseSignal ---------------------------------------------------------------------------

/// mode's BaseSignal: name, owner, default sender and the receiver registry, with connect,
/// disconnect and iter_receivers. Signal kinds derive from it (CRTP) and add send().
/// @tparam Derived the signal kind (SyncSignal, Signal); receivers get `const Derived&`. It
///         must define `static constexpr std::string_view kind_name` and inherit the
///         constructors (`using BaseSignal::BaseSignal;`).
/// @tparam Fn the type-erased receiver stored in the registry; constructible from a callable
///         `R(sender_param, detail::param_t<Args>..., const Derived&)`.
/// @tparam Sender the sender type (see the table atop this header).
/// @tparam Args the argument types after the sender.
template <class Derived, class Fn, class Sender, class... Args>
class BaseSignal : public detail::signal_tag {
  static_assert((!std::is_rvalue_reference_v<Args> && ...),
                "signal arguments reach several receivers: declare them by value or lvalue "
                "reference, not T&&");

  using traits = detail::sender_traits<Sender>;

  // Passkey: lets clone() and with_default_sender() build a Derived sharing a registry
  // through Derived's inherited constructors, without opening that constructor to users.
  class share_tag {
    friend class BaseSignal;
    explicit share_tag() = default;
  };

 public:
  // -- member types -----------------------------------------------------------------------

  /// The Sender template argument.
  using sender_type = Sender;

  /// How a sender is stored (default_sender, connect_options::sender).
  using sender_value = typename traits::value_type;

  /// How receivers and send() take the sender.
  using sender_param = typename traits::param_type;

  /// The filter key: the sender's typed identity.
  using key_type = typename traits::key_type;

  /// The argument types, as a tuple.
  using args_tuple = std::tuple<Args...>;

  /// The type-erased receiver type.
  using function_type = Fn;

  /// The shared receiver registry type.
  using registry_type = detail::signal_registry<key_type, Fn>;

  /// One connected receiver (id, filter, owner token, callable `fn`).
  using entry_ptr = typename registry_type::entry_ptr;

  /// Receivers in connect order (what iter_receivers returns).
  using snapshot_type = typename registry_type::snapshot_type;

  /// mode: asdict() result and constructor fields.
  using fields_type = signal_fields<sender_value>;

  /// mode: clone(**kwargs).
  using overrides_type = signal_overrides<sender_value>;

  /// mode: connect(fun, weak=, sender=).
  using options = connect_options<sender_value>;

  // -- constructors, destructors, and assignment operators ----------------------------------

  /// An unnamed, unowned signal without default sender and with its own receivers.
  BaseSignal() : BaseSignal(fields_type{}) {}

  /// A signal named `name` (mode: name), declared in `owner` (mode: owner), e.g.
  /// `SyncSignal<X*> on_started{"on_started", "X"};`.
  explicit BaseSignal(std::string name, std::string owner = {})
      : BaseSignal(fields_type{std::move(name), std::move(owner), std::nullopt}) {}

  /// A signal from its fields; throws std::invalid_argument for a null reference sender.
  explicit BaseSignal(fields_type fields) : BaseSignal(std::move(fields), nullptr, share_tag{}) {}

  /// Internal: a signal using `registry` (see with_default_sender()), or a new one if null.
  BaseSignal(fields_type fields, std::shared_ptr<registry_type> registry, share_tag)
      : name_(std::move(fields.name)),
        owner_(std::move(fields.owner)),
        default_sender_(std::move(fields.default_sender)),
        registry_(registry ? std::move(registry) : std::make_shared<registry_type>(owner_, name_)) {
    check_sender(default_sender_, "default_sender");
  }

  /// Not copyable: say clone() (own receivers) or with_default_sender() (shared ones).
  BaseSignal(const BaseSignal&) = delete;

  /// Not copyable.
  BaseSignal& operator=(const BaseSignal&) = delete;

  /// Moves the fields; the moved-from signal stays usable and shares the receivers.
  BaseSignal(BaseSignal&& other) noexcept
      : name_(std::move(other.name_)),
        owner_(std::move(other.owner_)),
        default_sender_(std::move(other.default_sender_)),
        registry_(other.registry_) {}

  /// Moves the fields; the moved-from signal stays usable and shares the receivers.
  BaseSignal& operator=(BaseSignal&& other) noexcept {
    name_ = std::move(other.name_);
    owner_ = std::move(other.owner_);
    default_sender_ = std::move(other.default_sender_);
    registry_ = other.registry_;
    return *this;
  }

  ~BaseSignal() = default;

  // -- observers --------------------------------------------------------------------------

  /// mode: name. Default: empty.
  const std::string& name() const noexcept { return name_; }

  /// mode: owner (a label such as the declaring class's name). Default: empty.
  const std::string& owner() const noexcept { return owner_; }

  /// mode: default_sender. Default: none.
  const std::optional<sender_value>& default_sender() const noexcept { return default_sender_; }

  /// mode: label. `Owner.name` when owned, else name.
  std::string label() const { return owner_.empty() ? name_ : owner_ + "." + name_; }

  /// mode: ident (an alias of label kept for compatibility, as in mode).
  std::string ident() const { return label(); }

  /// mode: asdict(). The signal's fields (mode's `loop` has no counterpart).
  fields_type asdict() const { return fields_type{name_, owner_, default_sender_}; }

  /// The receiver registry this signal shares with its with_default_sender() copies; the
  /// async layer's hook (see detail/signal_registry.hpp).
  registry_type& registry() const noexcept { return *registry_; }

  /// What this signal family (this signal and the copies sharing its receivers) did: sends
  /// and receivers that threw. mode::signal_stats() adds up every family of a label.
  SignalStats stats() const { return registry_->counters().stats(); }

  /// True if connecting on one of the two signals is seen by the other.
  bool shares_receivers_with(const BaseSignal& other) const noexcept {
    return registry_ == other.registry_;
  }

  /// mode: unpack_sender_from_args() for a send without sender: the default sender, or
  /// std::logic_error naming the signal when it has none (mode: TypeError). A send with an
  /// explicit sender needs no unpacking: arity tells the two apart at compile time.
  sender_value unpack_sender() const {
    if (!default_sender_)
      throw std::logic_error(fmt::format(
          "{} '{}': send() without a sender needs a default_sender (pass the sender first, or "
          "use with_default_sender())",
          Derived::kind_name, label()));
    return *default_sender_;
  }

  /// mode: iter_receivers(sender). The receivers a send from `sender` reaches, in connect
  /// order: the unfiltered ones plus those filtered on `sender`. Dead weak receivers are
  /// pruned. Each entry's `fn` is the receiver.
  snapshot_type iter_receivers(sender_param sender) const {
    const key_type& key = traits::key_of_param(sender);
    return registry_->snapshot(&key);
  }

  /// mode: iter_receivers(None). The unfiltered receivers only.
  snapshot_type iter_receivers() const { return registry_->snapshot(nullptr); }

  // -- modifiers --------------------------------------------------------------------------

  /// Sets name (mode: `sig.name = ...`).
  void set_name(std::string name) { name_ = std::move(name); }

  /// Sets owner (mode: `sig.owner = ...`).
  void set_owner(std::string owner) { owner_ = std::move(owner); }

  /// mode: __set_name__(owner, name): sets the owner, and the name unless it has one.
  void set_owner_and_name(std::string owner, std::string name) {
    owner_ = std::move(owner);
    if (name_.empty())
      name_ = std::move(name);
  }

  /// Sets or clears default_sender (mode: `sig.default_sender = ...`); does not touch the
  /// receivers. Throws std::invalid_argument for a null reference sender.
  void set_default_sender(std::optional<sender_value> sender) {
    check_sender(sender, "default_sender");
    default_sender_ = std::move(sender);
  }

  // -- cloning ----------------------------------------------------------------------------

  /// mode: clone(). A signal with the same fields and its own, empty receiver sets (as in
  /// mode, where clone() passes no receivers).
  Derived clone() const { return clone(overrides_type{}); }

  /// mode: clone(**kwargs). As clone(), with the fields set in `overrides` replaced.
  Derived clone(const overrides_type& overrides) const {
    return Derived{
        fields_type{overrides.name.value_or(name_), overrides.owner.value_or(owner_),
                    overrides.default_sender ? overrides.default_sender : default_sender_}};
  }

  /// mode: with_default_sender(None). A copy that keeps the default sender and SHARES the
  /// receivers: connecting on either is seen by both.
  Derived with_default_sender() const { return Derived{asdict(), registry_, share_tag{}}; }

  /// mode: with_default_sender(sender). A copy sending as `sender` by default that SHARES the
  /// receivers (receivers connected through it are filtered on `sender`).
  Derived with_default_sender(sender_param sender) const {
    return Derived{fields_type{name_, owner_, traits::value_of(sender)}, registry_, share_tag{}};
  }

  // -- connecting -------------------------------------------------------------------------

  /// mode: connect(fun, weak=False, sender=None). Connects a function, lambda or function
  /// object taking (sender, args...[, signal]); returns the id to disconnect it with. A
  /// function pointer has an identity: connecting it again for the same sender changes nothing
  /// and returns the first id, and disconnect(fun) finds it. Lambdas have none: each connect
  /// adds a receiver. Throws std::invalid_argument for weak=true, an empty std::function or a
  /// null function pointer.
  template <detail::callable_receiver<Derived, sender_param, detail::param_t<Args>...> F>
  receiver_id connect(F&& fun, const options& opts = {}) {
    using fun_type = std::decay_t<F>;
    if (opts.weak)
      throw_invalid(
          "connect(weak=true) needs a receiver bound to a std::shared_ptr or "
          "std::weak_ptr, not a plain function or lambda");
    if constexpr (std::is_constructible_v<bool, const fun_type&>)
      if (!static_cast<bool>(fun))
        throw_invalid(
            "connect() got an empty receiver (null function pointer or empty "
            "std::function)");
    auto identity = detail::receiver_identity{};
    if constexpr (std::is_pointer_v<fun_type>)
      identity = detail::receiver_identity::of(fun_type{fun});
    Fn fn{[f = fun_type(std::forward<F>(fun))](sender_param s, detail::param_t<Args>... a,
                                               const Derived& sig) mutable -> decltype(auto) {
      return detail::dispatch(f, sig, s, a...);
    }};
    return add(opts, identity, false, {}, opts.owner, std::move(fn));
  }

  /// Connects member function `method` of `*object` (a non-owning pointer: disconnect before
  /// the object dies, or use a shared_ptr/weak_ptr). Identity: (object, method). Throws
  /// std::invalid_argument for a null object or weak=true.
  template <class T, detail::method_receiver<Derived, T, sender_param, detail::param_t<Args>...> M>
  receiver_id connect(T* object, M method, const options& opts = {}) {
    if (object == nullptr)
      throw_invalid("connect() got a null object for a member-function receiver");
    if (opts.weak)
      throw_invalid(
          "connect(weak=true) needs the object as a std::shared_ptr or "
          "std::weak_ptr, not a raw pointer");
    Fn fn{[object, method](sender_param s, detail::param_t<Args>... a,
                           const Derived& sig) mutable -> decltype(auto) {
      return detail::dispatch(method, sig, object, s, a...);
    }};
    return add(opts, detail::receiver_identity::of(method, object), false, {}, opts.owner,
               std::move(fn));
  }

  /// Connects member function `method` of `*object`: strongly (the signal keeps the object
  /// alive) or, with weak=true, weakly (mode: WeakMethod; pruned once the object is gone).
  /// Identity: (object, method). Throws std::invalid_argument for a null object.
  template <class T, detail::method_receiver<Derived, T, sender_param, detail::param_t<Args>...> M>
  receiver_id connect(const std::shared_ptr<T>& object, M method, const options& opts = {}) {
    if (object == nullptr)
      throw_invalid("connect() got a null object for a member-function receiver");
    auto identity = detail::receiver_identity::of(method, object.get());
    auto owner = owner_or(opts, object);
    if (!opts.weak) {
      Fn fn{[object, method](sender_param s, detail::param_t<Args>... a,
                             const Derived& sig) mutable -> decltype(auto) {
        return detail::dispatch(method, sig, object.get(), s, a...);
      }};
      return add(opts, identity, false, {}, std::move(owner), std::move(fn));
    }
    Fn fn{[weak = std::weak_ptr<T>(object), method](sender_param s, detail::param_t<Args>... a,
                                                    const Derived& sig) mutable -> decltype(auto) {
      using result = decltype(detail::dispatch(method, sig, std::declval<T*>(), s, a...));
      if (auto strong = weak.lock())
        return detail::dispatch(method, sig, strong.get(), s, a...);
      return detail::dead_result<result>();
    }};
    return add(opts, identity, true, token_of(object), std::move(owner), std::move(fn));
  }

  /// Connects member function `method` of `*object` weakly (always, whatever opts.weak says).
  /// Throws std::invalid_argument if the object is already gone.
  template <class T, detail::method_receiver<Derived, T, sender_param, detail::param_t<Args>...> M>
  receiver_id connect(const std::weak_ptr<T>& object, M method, options opts = {}) {
    auto strong = lock_or_throw(object);
    opts.weak = true;
    return connect(strong, method, opts);
  }

  /// Connects a callable bound to `*object`, called as `fun(object, sender, args...[, signal])`
  /// with the object as `const std::shared_ptr<T>&` or `T&`: strongly, or with weak=true
  /// weakly (pruned once the object is gone). No identity: disconnect it by id. Throws
  /// std::invalid_argument for a null object.
  template <class T, detail::bound_receiver<Derived, T, sender_param, detail::param_t<Args>...> F>
  receiver_id connect(const std::shared_ptr<T>& object, F&& fun, const options& opts = {}) {
    using fun_type = std::decay_t<F>;
    constexpr bool takes_ptr = detail::receiver_for<fun_type, Derived, const std::shared_ptr<T>&,
                                                    sender_param, detail::param_t<Args>...>;
    if (object == nullptr)
      throw_invalid("connect() got a null object for a bound receiver");
    auto owner = owner_or(opts, object);
    if (!opts.weak) {
      Fn fn{[object, f = fun_type(std::forward<F>(fun))](
                sender_param s, detail::param_t<Args>... a,
                const Derived& sig) mutable -> decltype(auto) {
        if constexpr (takes_ptr)
          return detail::dispatch(f, sig, object, s, a...);
        else
          return detail::dispatch(f, sig, *object, s, a...);
      }};
      return add(opts, {}, false, {}, std::move(owner), std::move(fn));
    }
    Fn fn{[weak = std::weak_ptr<T>(object), f = fun_type(std::forward<F>(fun))](
              sender_param s, detail::param_t<Args>... a,
              const Derived& sig) mutable -> decltype(auto) {
      using obj_type = std::conditional_t<takes_ptr, const std::shared_ptr<T>&, T&>;
      using result = decltype(detail::dispatch(f, sig, std::declval<obj_type>(), s, a...));
      if (auto strong = weak.lock()) {
        if constexpr (takes_ptr)
          return detail::dispatch(f, sig, std::as_const(strong), s, a...);
        else
          return detail::dispatch(f, sig, *strong, s, a...);
      }
      return detail::dead_result<result>();
    }};
    return add(opts, {}, true, token_of(object), std::move(owner), std::move(fn));
  }

  /// Connects a callable bound to `*object` weakly (always). Throws std::invalid_argument if
  /// the object is already gone.
  template <class T, detail::bound_receiver<Derived, T, sender_param, detail::param_t<Args>...> F>
  receiver_id connect(const std::weak_ptr<T>& object, F&& fun, options opts = {}) {
    auto strong = lock_or_throw(object);
    opts.weak = true;
    return connect(strong, std::forward<F>(fun), opts);
  }

  // -- disconnecting ----------------------------------------------------------------------

  /// Disconnects the receiver connect() returned `id` for; returns whether it was connected.
  /// Works for every kind of receiver, on any signal sharing the registry.
  bool disconnect(receiver_id id) { return registry_->remove(id); }

  /// mode: disconnect(fun, weak=, sender=). Disconnects function `fun` as connected for
  /// `opts.sender` (or the default sender; none: the unfiltered receiver); returns whether it
  /// was connected (fix: mode never removed strong receivers).
  template <class F>
  requires std::is_function_v<F>
  bool disconnect(F* fun, const options& opts = {}) {
    return registry_->remove(filter_for(opts), detail::receiver_identity::of(fun));
  }

  /// Disconnects member function `method` of `*object` (however it was connected: raw,
  /// shared_ptr, weak_ptr, strong or weak); returns whether it was connected.
  template <class T, class M>
  requires std::is_member_function_pointer_v<M>
  bool disconnect(T* object, M method, const options& opts = {}) {
    return registry_->remove(filter_for(opts), detail::receiver_identity::of(method, object));
  }

  /// As disconnect(object.get(), method, opts).
  template <class T, class M>
  requires std::is_member_function_pointer_v<M>
  bool disconnect(const std::shared_ptr<T>& object, M method, const options& opts = {}) {
    return disconnect(object.get(), method, opts);
  }

  /// As disconnect(object.lock().get(), method, opts); an expired object's receivers are
  /// pruned and false is returned.
  template <class T, class M>
  requires std::is_member_function_pointer_v<M>
  bool disconnect(const std::weak_ptr<T>& object, M method, const options& opts = {}) {
    if (auto strong = object.lock())
      return disconnect(strong.get(), method, opts);
    registry_->prune();
    return false;
  }

  /// Lambdas and function objects have no identity: rejected at compile time.
  template <detail::without_identity F>
  bool disconnect(F&&, const options& = {}) {
    static_assert(detail::always_false<F>,
                  "lambdas and function objects have no identity: disconnect them by the "
                  "receiver_id that connect() returned");
    return false;
  }

 protected:
  /// The sender a send without sender uses, as receivers take it: a copy of the default
  /// sender, so that a receiver changing default_sender cannot pull it from under the send.
  sender_value sender_for_send() const { return unpack_sender(); }

  /// Receivers get this as the sender when `value` is the stored sender.
  static sender_param as_param(const sender_value& value) { return traits::param_of(value); }

  /// The filter key of a sender (a reference to it for value senders: no copy per send).
  static decltype(auto) key_of(sender_param sender) { return traits::key_of_param(sender); }

  /// How `sender` is stored (a copy of a value or shared_ptr sender, the address of a reference
  /// sender): what an async send keeps until its receivers ran.
  static sender_value value_of(sender_param sender) { return traits::value_of(sender); }

 private:
  [[noreturn]] void throw_invalid(std::string_view what) const {
    throw std::invalid_argument(fmt::format("{} '{}': {}", Derived::kind_name, label(), what));
  }

  void check_sender(const std::optional<sender_value>& sender, std::string_view field) const {
    if (sender && !traits::valid(*sender))
      throw std::invalid_argument(fmt::format("{} '{}': {} is a null reference sender",
                                              Derived::kind_name, label(), field));
  }

  // The filter key a connect/disconnect uses: the default sender, else opts.sender.
  std::optional<key_type> filter_for(const options& opts) const {
    if (default_sender_)
      return key_type{traits::key_of_value(*default_sender_)};
    if (opts.sender) {
      check_sender(opts.sender, "options.sender");
      return key_type{traits::key_of_value(*opts.sender)};
    }
    return std::nullopt;
  }

  // An owner/lifetime token for `object` (cv-qualified objects included).
  template <class T>
  static std::weak_ptr<void> token_of(const std::shared_ptr<T>& object) {
    return std::weak_ptr<void>{std::const_pointer_cast<std::remove_cv_t<T>>(object)};
  }

  template <class T>
  static std::weak_ptr<void> owner_or(const options& opts, const std::shared_ptr<T>& object) {
    return detail::is_empty_token(opts.owner) ? token_of(object) : opts.owner;
  }

  template <class T>
  std::shared_ptr<T> lock_or_throw(const std::weak_ptr<T>& object) const {
    auto strong = object.lock();
    if (!strong)
      throw_invalid("connect() got an expired std::weak_ptr: its object is already gone");
    return strong;
  }

  receiver_id add(const options& opts, detail::receiver_identity identity, bool weak,
                  std::weak_ptr<void> life, std::weak_ptr<void> owner, Fn fn) {
    return registry_->add(filter_for(opts), identity, weak, std::move(life), std::move(owner),
                          std::move(fn));
  }

  std::string name_;
  std::string owner_;
  std::optional<sender_value> default_sender_;
  std::shared_ptr<registry_type> registry_;
};

/// mode: repr(). `<SyncSignal: Owner.name>`, plus ` sender=...` when the signal has a default
/// sender (pointers print as addresses, formattable values with fmt, others as their type).
template <class Derived, class Fn, class Sender, class... Args>
std::string to_string(const BaseSignal<Derived, Fn, Sender, Args...>& sig) {
  auto info = std::string{};
  if (const auto& sender = sig.default_sender())
    info = " sender=" + detail::format_sender(*sender);
  return fmt::format("<{}: {}{}>", Derived::kind_name, sig.label(), info);
}

/// Prints to_string(sig).
template <class Derived, class Fn, class Sender, class... Args>
std::ostream& operator<<(std::ostream& out, const BaseSignal<Derived, Fn, Sender, Args...>& sig) {
  return out << mode::to_string(sig);
}

// -- concepts (mode's abstract types) -----------------------------------------------------

/// mode: BaseSignalT. A signal type: fields, label, cloning and receivers.
template <class S>
concept BaseSignalT = std::derived_from<S, detail::signal_tag> && requires(const S& s) {
  typename S::sender_type;
  typename S::sender_value;
  { s.name() } -> std::convertible_to<std::string>;
  { s.owner() } -> std::convertible_to<std::string>;
  { s.label() } -> std::convertible_to<std::string>;
  { s.asdict() } -> std::same_as<typename S::fields_type>;
  { s.clone() } -> std::same_as<S>;
  { s.with_default_sender() } -> std::same_as<S>;
  { s.iter_receivers() } -> std::same_as<typename S::snapshot_type>;
};

}  // namespace mode

/// Formats a signal as to_string(sig) does.
template <class S>
struct fmt::formatter<S, char, std::enable_if_t<std::is_base_of_v<mode::detail::signal_tag, S>>>
    : fmt::formatter<std::string_view> {
  template <class FormatContext>
  auto format(const S& sig, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(mode::to_string(sig), ctx);
  }
};
