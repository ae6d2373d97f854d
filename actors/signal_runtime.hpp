// The CAF side of mode::Signal (include/mode/signal.hpp): delivering a send's batches to the
// services' actors, awaiting their acknowledgements, and the CAF groups of the group transport
// with their recycled name pool. Private to the library.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "mode/signal.hpp"
#include "service_actor.hpp"

namespace mode::detail {

/// A service's side of the group transport: the groups it should be in (one per signal family
/// slot that has receivers on it) and whether it runs. It is subscribed to them exactly while it
/// runs, because a CAF group holds its members alive: a stopped service must not be kept by one.
/// Thread-safe: slots change memberships from senders' threads, the actor flips `running`.
struct signal_home {
  /// A home for the service whose actor is `actor`, running or not.
  signal_home(caf::actor_addr actor, bool running) : running_(running), actor_(std::move(actor)) {}

  /// Adds (`on`) or removes `g` from the wanted groups, subscribing or unsubscribing the
  /// service's actor if it runs.
  void want(const caf::group& g, bool on);

  /// The service starts running (subscribes to every wanted group) or stops (unsubscribes).
  void set_running(service_actor& self, bool on);

  /// Number of wanted groups (for tests).
  std::size_t wanted() const;

 private:
  void subscribe_locked(const caf::group& g);

  mutable std::mutex mtx_;
  bool running_ = false;
  caf::actor_addr actor_;
  std::vector<caf::group> groups_;
};

/// Names of local groups for one actor system, recycled: CAF keeps every local group until the
/// system shuts down, so a fresh name per signal would grow without bound.
struct group_pool {
  /// A free name, or a new one.
  std::string acquire();

  /// Returns `name` (no member may remain in its group).
  void release(std::string name);

  /// Counts for signal_group_pool_stats().
  signal_group_stats stats() const;

 private:
  mutable std::mutex mtx_;
  std::vector<std::string> free_;
  std::size_t created_ = 0;
};

/// One CAF group of a signal family: for its unfiltered receivers, or for those filtered on one
/// sender. Its destructor takes every member out and returns the name.
struct group_slot {
  ~group_slot();

  std::shared_ptr<group_pool> pool;
  std::string name;
  caf::group group;
  std::vector<std::shared_ptr<signal_home>> members;
};

/// The service `self` hosts starts running (Service::start) or stops (end of its stop sequence,
/// actor exit): it joins or leaves its signals' groups.
void signal_service_running(service_actor& self, bool running);

}  // namespace mode::detail
