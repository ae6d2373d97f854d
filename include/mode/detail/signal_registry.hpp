// The receiver registry behind every mode signal (SyncSignal now, the async Signal later).
//
// Problem: a signal needs "who listens, for which sender, in which order", shared between a
// signal and its with_default_sender() copies, mutated from several actors (the async Signal's
// connect/disconnect) while sends iterate it. This header solves exactly that and nothing else:
// it knows no signature, no actor and no logging. It also carries the family's counts
// (mode/signal_stats.hpp), since it is the one object a signal and its copies share.
//
// Hook for the async Signal (the CAF layer): instantiate signal_registry<Key, Fn> with its own
// Fn (any movable callable type), store in each entry an `owner` token (a std::weak_ptr<void> to
// whatever identifies the actor that must run the receiver, e.g. the Service object), and call
// snapshot(&key) to get the receivers for one sender, in connect order, as shared entries it can
// hand to other actors: an entry stays valid while anyone holds it, and entry::connected() turns
// false the moment it is disconnected, so a receiver disconnected while a send is in flight is
// skipped. remove_owner(token) drops every receiver a stopping service owns.
#pragma once

#include "mode/signal_stats.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <vector>

namespace mode {

/// Identifies one connected receiver; returned by connect(), accepted by disconnect().
/// Unique process-wide (a counter), so an id from another signal never removes the wrong
/// receiver; ids increase in connect order. A default-constructed id names no receiver.
struct receiver_id {
  /// The id's number; 0 means "no receiver".
  std::uint64_t value = 0;

  /// True unless this is the empty id.
  explicit operator bool() const noexcept { return value != 0; }

  friend auto operator<=>(const receiver_id&, const receiver_id&) = default;
};

namespace detail {

/// Returns a fresh, process-wide unique receiver id (thread-safe).
receiver_id next_receiver_id() noexcept;

/// What makes two receivers "the same receiver" for disconnect(fun) and for mode's idempotent
/// connect: the receiver's C++ type, the bytes of its function/member-function pointer and the
/// object it is bound to. Receivers without identity (lambdas, function objects) have an empty
/// identity, which matches nothing: they are disconnected by their receiver_id.
class receiver_identity {
 public:
  // -- constructors -----------------------------------------------------------------------

  /// The empty identity (matches nothing).
  receiver_identity() = default;

  /// Identity of a function pointer or member-function pointer `p`, bound to `object` (null
  /// for free functions).
  template <class P>
  static receiver_identity of(const P& p, const void* object = nullptr) noexcept {
    static_assert(std::is_pointer_v<P> || std::is_member_function_pointer_v<P>,
                  "only function and member-function pointers have an identity");
    static_assert(sizeof(P) <= max_size, "unexpectedly large member-function pointer");
    receiver_identity result;
    result.type_ = &typeid(P);
    result.object_ = object;
    // Itanium's function and member-function pointers have no padding, so equal values have
    // equal bytes (and the other way round).
    std::memcpy(result.bytes_.data(), &p, sizeof(P));
    return result;
  }

  // -- observers --------------------------------------------------------------------------

  /// True for receivers without identity.
  bool empty() const noexcept { return type_ == nullptr; }

  /// True if both identities are non-empty and name the same function on the same object.
  bool matches(const receiver_identity& other) const noexcept {
    return type_ != nullptr && other.type_ != nullptr && *type_ == *other.type_ &&
           object_ == other.object_ && bytes_ == other.bytes_;
  }

 private:
  static constexpr std::size_t max_size = 2 * sizeof(void*);

  const std::type_info* type_ = nullptr;
  const void* object_ = nullptr;
  std::array<unsigned char, max_size> bytes_{};
};

/// True if `token` has no control block (a default-constructed weak_ptr), as opposed to one
/// whose object has died.
inline bool is_empty_token(const std::weak_ptr<void>& token) noexcept {
  std::weak_ptr<void> none;
  return !token.owner_before(none) && !none.owner_before(token);
}

/// True if both tokens share one control block (works after the object has died).
inline bool same_token(const std::weak_ptr<void>& x, const std::weak_ptr<void>& y) noexcept {
  return !x.owner_before(y) && !y.owner_before(x);
}

/// Receivers of one signal family (a signal and its with_default_sender() copies): unfiltered
/// ones and, per sender key, filtered ones. All members are thread-safe (one mutex); receivers
/// are never called under the lock.
/// @tparam Key the sender's filter key (typed identity: a pointer or a hashable value).
/// @tparam Fn the type-erased receiver, chosen by the signal kind.
template <class Key, class Fn>
class signal_registry {
 public:
  // -- member types -----------------------------------------------------------------------

  /// The filter key type.
  using key_type = Key;

  /// The type-erased receiver type.
  using function_type = Fn;

  /// One connected receiver. Immutable once connected, except for the connected flag.
  class entry {
   public:
    /// Creates an entry (use signal_registry::add).
    entry(receiver_id id, std::optional<Key> sender, receiver_identity identity, bool weak,
          std::weak_ptr<void> life, std::weak_ptr<void> owner, Fn fn)
        : id(id),
          sender(std::move(sender)),
          identity(identity),
          weak(weak),
          life(std::move(life)),
          owner(std::move(owner)),
          fn(std::move(fn)) {}

    /// The receiver's id, unique process-wide and increasing in connect order.
    const receiver_id id;

    /// The sender this receiver is filtered on, or nullopt for "hears every sender".
    const std::optional<Key> sender;

    /// What disconnect(fun) matches against (empty for lambdas).
    const receiver_identity identity;

    /// True for weak receivers (mode: weak=True): pruned once `life` expires.
    const bool weak;

    /// The object whose lifetime bounds a weak receiver (empty for strong ones).
    const std::weak_ptr<void> life;

    /// Opaque owner token for the async layer (e.g. the Service whose actor runs the
    /// receiver); the registry only compares it in remove_owner(). May be empty.
    const std::weak_ptr<void> owner;

    /// The receiver itself.
    const Fn fn;

    /// False once disconnected; a send in flight skips entries that turned false.
    bool connected() const noexcept { return connected_.load(std::memory_order_acquire); }

    /// Connected and, for weak receivers, the object is still alive.
    bool alive() const noexcept { return connected() && !(weak && life.expired()); }

   private:
    friend class signal_registry;

    mutable std::atomic<bool> connected_{true};
  };

  /// Shared handle to an entry; a snapshot keeps its entries alive.
  using entry_ptr = std::shared_ptr<const entry>;

  /// Receivers for one sender, in connect order.
  using snapshot_type = std::vector<entry_ptr>;

  // -- constructors -----------------------------------------------------------------------

  /// An empty registry of the signals labelled `owner`.`name` (for the counts).
  explicit signal_registry(std::string owner = {}, std::string name = {})
      : counters_(std::move(owner), std::move(name)) {}

  signal_registry(const signal_registry&) = delete;

  signal_registry& operator=(const signal_registry&) = delete;

  ~signal_registry() { clear(); }

  // -- modifiers --------------------------------------------------------------------------

  /// Connects a receiver (filtered on `sender` unless nullopt). If a live receiver with a
  /// matching non-empty `identity` is already connected for that sender, nothing changes and
  /// its id is returned (mode: connect is idempotent, receivers are a set).
  receiver_id add(std::optional<Key> sender, receiver_identity identity, bool weak,
                  std::weak_ptr<void> life, std::weak_ptr<void> owner, Fn fn) {
    // Built outside the lock: moving Fn may allocate.
    auto id = next_receiver_id();
    auto ptr = std::make_shared<const entry>(id, sender, identity, weak, std::move(life),
                                             std::move(owner), std::move(fn));
    std::lock_guard<std::mutex> guard{mtx_};
    auto& bucket = sender ? filtered_[*sender] : unfiltered_;
    prune_locked(bucket);
    if (!identity.empty()) {
      for (auto& e : bucket)
        if (e->identity.matches(identity)) {
          ptr->connected_.store(false, std::memory_order_release);
          return e->id;
        }
    }
    bucket.push_back(ptr);
    index_.emplace(id.value, std::move(ptr));
    bump_locked();
    return id;
  }

  /// Disconnects the receiver with this id; returns whether it was connected.
  bool remove(receiver_id id) {
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = index_.find(id.value);
    if (i == index_.end())
      return false;
    auto ptr = i->second;
    erase_locked(ptr->sender, [&](const entry& e) { return e.id == id; });
    return true;
  }

  /// Disconnects the receiver matching `identity` in the bucket of `sender` (nullopt: the
  /// unfiltered bucket); returns whether one was connected.
  bool remove(const std::optional<Key>& sender, const receiver_identity& identity) {
    if (identity.empty())
      return false;
    std::lock_guard<std::mutex> guard{mtx_};
    return erase_locked(sender, [&](const entry& e) { return e.identity.matches(identity); }) > 0;
  }

  /// Disconnects every receiver whose owner token shares `owner`'s control block (e.g. all
  /// receivers of a service that stops); returns how many. An empty token removes nothing.
  std::size_t remove_owner(const std::weak_ptr<void>& owner) {
    if (is_empty_token(owner))
      return 0;
    std::lock_guard<std::mutex> guard{mtx_};
    auto pred = [&](const entry& e) {
      return same_token(e.owner, owner);
    };
    auto n = erase_from_locked(unfiltered_, pred);
    for (auto i = filtered_.begin(); i != filtered_.end();) {
      n += erase_from_locked(i->second, pred);
      i = i->second.empty() ? filtered_.erase(i) : std::next(i);
    }
    return n;
  }

  /// Disconnects everything; returns how many receivers were connected.
  std::size_t clear() {
    std::lock_guard<std::mutex> guard{mtx_};
    auto n = index_.size();
    for (auto& kvp : index_)
      kvp.second->connected_.store(false, std::memory_order_release);
    index_.clear();
    unfiltered_.clear();
    filtered_.clear();
    bump_locked();
    return n;
  }

  /// Drops dead weak receivers everywhere (snapshot() already does so for the buckets it
  /// reads) and filter-table entries left empty.
  void prune() {
    std::lock_guard<std::mutex> guard{mtx_};
    prune_all_locked();
  }

  // -- observers --------------------------------------------------------------------------

  /// The receivers a send from `sender` reaches (null: unfiltered receivers only): unfiltered
  /// ones plus those filtered on `*sender`, in connect order. Dead weak receivers are
  /// disconnected on the way (mode: iter_receivers prunes).
  snapshot_type snapshot(const Key* sender) {
    std::lock_guard<std::mutex> guard{mtx_};
    prune_locked(unfiltered_);
    const std::vector<entry_ptr>* filtered = nullptr;
    if (sender != nullptr) {
      if (auto i = filtered_.find(*sender); i != filtered_.end()) {
        prune_locked(i->second);
        if (i->second.empty())
          filtered_.erase(i);
        else
          filtered = &i->second;
      }
    }
    if (filtered == nullptr)
      return snapshot_type(unfiltered_);
    // Both buckets are sorted by id (append order): merging them yields connect order.
    snapshot_type result;
    result.reserve(unfiltered_.size() + filtered->size());
    std::merge(unfiltered_.begin(), unfiltered_.end(), filtered->begin(), filtered->end(),
               std::back_inserter(result),
               [](const entry_ptr& x, const entry_ptr& y) { return x->id < y->id; });
    return result;
  }

  /// Number of connected receivers (after pruning dead weak ones).
  std::size_t size() {
    std::lock_guard<std::mutex> guard{mtx_};
    prune_all_locked();
    return index_.size();
  }

  /// Number of senders in the filter table (after pruning); a sender's entry goes with its
  /// last receiver (fix: mode's table only grows).
  std::size_t sender_count() {
    std::lock_guard<std::mutex> guard{mtx_};
    prune_all_locked();
    return filtered_.size();
  }

  /// Grows with every change of the receiver set (connect, disconnect, pruning, clear), so a
  /// layer that derives state from a snapshot (the async Signal's group memberships) can tell
  /// when to derive it again. Read it before taking the snapshot it goes with.
  std::uint64_t version() const noexcept { return version_.load(std::memory_order_acquire); }

  /// The family's sends and receiver errors.
  signal_counters& counters() noexcept { return counters_; }

  // -- extension --------------------------------------------------------------------------

  /// State another layer attaches to this signal family (the async Signal keeps its CAF group
  /// slots here): made by `make()` (returning a std::shared_ptr<T>) on the first call, the same
  /// object afterwards, destroyed with the registry. Every call must name the same T.
  template <class T, class Make>
  std::shared_ptr<T> extension(Make&& make) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!extension_)
      extension_ = std::forward<Make>(make)();
    return std::static_pointer_cast<T>(extension_);
  }

 private:
  using bucket_type = std::vector<entry_ptr>;

  signal_counters counters_;

  // Removes matching entries from `bucket`, marking them disconnected; returns how many.
  template <class Pred>
  std::size_t erase_from_locked(bucket_type& bucket, Pred pred) {
    auto n = std::size_t{0};
    std::erase_if(bucket, [&](const entry_ptr& e) {
      if (!pred(*e))
        return false;
      e->connected_.store(false, std::memory_order_release);
      index_.erase(e->id.value);
      ++n;
      return true;
    });
    if (n > 0)
      bump_locked();
    return n;
  }

  // Like erase_from_locked on the bucket of `sender`, dropping the bucket once empty.
  template <class Pred>
  std::size_t erase_locked(const std::optional<Key>& sender, Pred pred) {
    if (!sender)
      return erase_from_locked(unfiltered_, pred);
    auto i = filtered_.find(*sender);
    if (i == filtered_.end())
      return 0;
    auto n = erase_from_locked(i->second, pred);
    prune_locked(i->second);
    if (i->second.empty())
      filtered_.erase(i);
    return n;
  }

  void prune_locked(bucket_type& bucket) {
    erase_from_locked(bucket, [](const entry& e) { return e.weak && e.life.expired(); });
  }

  void prune_all_locked() {
    prune_locked(unfiltered_);
    for (auto i = filtered_.begin(); i != filtered_.end();) {
      prune_locked(i->second);
      i = i->second.empty() ? filtered_.erase(i) : std::next(i);
    }
  }

  void bump_locked() noexcept { version_.fetch_add(1, std::memory_order_acq_rel); }

  // Declared first, so destroyed last: after the receivers are gone.
  std::shared_ptr<void> extension_;
  std::atomic<std::uint64_t> version_{0};
  std::mutex mtx_;
  bucket_type unfiltered_;
  std::unordered_map<Key, bucket_type> filtered_;
  std::unordered_map<std::uint64_t, entry_ptr> index_;
};

}  // namespace detail

}  // namespace mode
