// Work handed to a service's actor from elsewhere, as a message `(run_atom, job, slot)` that the
// actor hosting a Service handles (actors/service_actor.cpp). CAF-free, so that public templates
// (the async Signal's per-send plan) can be jobs themselves; the actor layer defines run().
#pragma once

#include <cstdint>
#include <memory>

namespace caf {
class response_promise;
}  // namespace caf

namespace mode::detail {

class service_actor;

/// A job run on a service's actor. run() is called on that actor inside its message handler;
/// `slot` says which part of a job shared by several actors is this one's (no_slot: the job
/// finds it). It answers `rp` when the work is done (a request waits for that; an anonymous
/// message needs no answer).
class actor_job {
 public:
  /// The slot of a message that does not name one (a group broadcast).
  static constexpr std::uint32_t no_slot = UINT32_MAX;

  virtual ~actor_job() = default;

  /// Runs the job's part `slot` on `self`.
  virtual void run(service_actor& self, std::uint32_t slot, caf::response_promise rp) = 0;
};

/// How jobs travel in messages.
using actor_job_ptr = std::shared_ptr<actor_job>;

}  // namespace mode::detail
