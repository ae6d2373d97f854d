// The CAF actor that hosts one Service, and the messages it understands.
// Private to the library: nothing outside actors/ talks to these types.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include <caf/all.hpp>

#include "mode/blocking_detector.hpp"
#include "mode/detail/actor_job.hpp"
#include "mode/detail/coro_host.hpp"
#include "mode/detail/monitoring_service.hpp"
#include "mode/service.hpp"

namespace mode::detail {

// -- messages ---------------------------------------------------------------------------

using start_atom = caf::atom_constant<caf::atom("m_start")>;
using stop_atom = caf::atom_constant<caf::atom("m_stop")>;
using restart_atom = caf::atom_constant<caf::atom("m_restart")>;
using crash_atom = caf::atom_constant<caf::atom("m_crash")>;
using state_atom = caf::atom_constant<caf::atom("m_state")>;
using stopped_atom = caf::atom_constant<caf::atom("m_stopped")>;
using wake_atom = caf::atom_constant<caf::atom("m_wake")>;
using timeout_atom = caf::atom_constant<caf::atom("m_timeout")>;
using begin_atom = caf::atom_constant<caf::atom("m_begin")>;
using traces_atom = caf::atom_constant<caf::atom("m_traces")>;
/// `(child_exit_atom, child address, reason)`: a child's actor exited with an error.
using child_exit_atom = caf::atom_constant<caf::atom("m_chexit")>;
/// `(run_atom, actor_job_ptr, std::uint32_t slot)`: run a job on the service's actor.
using run_atom = caf::atom_constant<caf::atom("m_run")>;

/// The error category of mode's exit reasons.
constexpr caf::atom_value error_category = caf::atom("mode");

/// Error codes in error_category.
enum class errc : std::uint8_t {
  crashed = 1,         ///< the service crashed; the context holds the reason text
  not_running = 2,     ///< a request reached a service that is not running; context: text
  handler_failed = 3,  ///< a message handler threw; context: `<label> <- <exception>`
};

/// An error of error_category with code `code` and `text` as its context.
caf::error make_mode_error(errc code, std::string text);

/// True on a thread of `sys`'s scheduler, on any service's actor, or anywhere when
/// `sys` runs CAF's test coordinator: a blocking call there would block the scheduler
/// (or, on the test coordinator, wait for actors that only the caller can run).
bool on_scheduler_thread(caf::actor_system& sys) noexcept;

/// The lifecycle requests, built once: a message is copy-on-write with an atomic
/// reference count, so every start, stop and restart can share one.
const caf::message& maybe_start_message();  ///< (start_atom, true): mode's maybe_start
const caf::message& stop_message();
/// (stop_atom, restart_atom): a stop that a restart follows, so the actor stays.
const caf::message& stop_for_restart_message();
const caf::message& restart_message();
const caf::message& wait_stopped_message();

/// An exit reason that carries a crash: `mode::crashed(<reason>)`.
caf::error make_crash_error(const std::string& reason_text);

/// True if `err` is exit reason `reason`. (CAF's `err == reason` builds an error, which
/// allocates, to compare with: this is on every exit's path.)
inline bool is_exit_reason(const caf::error& err, caf::exit_reason reason) noexcept {
  if (!err)  // CAF 0.17 keeps no data for code 0 (exit_reason::normal)
    return reason == caf::exit_reason::normal;
  return err.category() == caf::atom("exit") && err.code() == static_cast<std::uint8_t>(reason);
}

/// True if an actor that exited with `err` failed: not normally, and not because nothing
/// referred to it any more.
inline bool is_failure(const caf::error& err) noexcept {
  return err && !is_exit_reason(err, caf::exit_reason::normal) &&
         !is_exit_reason(err, caf::exit_reason::unreachable);
}

/// The reason text of a crash error, or CAF's rendering of any other error.
std::string error_text(const caf::error& err);

/// Turns a failed request's error back into an exception to rethrow.
std::exception_ptr to_exception(const caf::error& err);

// -- binding of a Service to its actor ----------------------------------------------------

struct signal_home;  // actors/signal_runtime.hpp

/// What a Service knows of the actor hosting it. The actor and its handles may read
/// it from different threads, hence the mutex.
struct service_binding {
  /// Guards what other threads read: actor, label, and the Service's children() (written
  /// under it by their only writer, the service, which reads them without it).
  mutable std::mutex mtx;
  caf::actor_system* system = nullptr;
  caf::actor_addr actor;  ///< weak: the actor owns the Service, not the other way
  /// The hosting actor; valid, and touched, only on that actor.
  class service_actor* self = nullptr;
  /// Strong references to the children's actors, by their index in
  /// Service::children() (empty: not spawned); touched only on this actor.
  std::vector<caf::actor> children;
  /// The signal layer's per-service state (its CAF group memberships); created when a group
  /// first wants the service, since most services never join one.
  std::shared_ptr<signal_home> signals;
  /// The service runs, for the signal layer: what a signal_home made later starts from.
  bool signals_running = false;
  /// Service::label(), read when the actor was spawned (before it ran, so without a
  /// race): what threads other than the service's actor print. Guarded by mtx.
  std::string label;

  caf::actor get() const {
    std::lock_guard<std::mutex> guard{mtx};
    return caf::actor_cast<caf::actor>(actor);
  }
};

/// The label of `svc` for code that does not run on svc's actor (its parent, its
/// supervisor, handles): the one read when its actor was last spawned, else label()
/// itself (a service never spawned runs nowhere, so reading it races with nothing).
std::string label_of(const Service& svc);

/// Returns the system-wide relay that delivers delayed wake-ups without holding the
/// sleeper alive (delayed_send holds a strong reference to its target until it fires).
caf::actor timer_relay(caf::actor_system& sys);

/// The actor that runs one Service.
class service_actor : public caf::event_based_actor, public host_driver {
 public:
  /// `parent`: the actor of the service this one is a child of (told when this actor
  /// exits with an error), or none.
  service_actor(caf::actor_config& cfg, std::shared_ptr<Service> svc, caf::actor_addr parent);
  ~service_actor() override;

  caf::behavior make_behavior() override;
  void on_exit() override;
  /// Handles one message, with the activity slot marked busy meanwhile.
  caf::invoke_message_result consume(caf::mailbox_element& x) override;

  // -- host_driver ------------------------------------------------------------------------
  void post_wake(std::uint64_t id) override;
  void schedule_timeout(std::uint64_t id, std::chrono::nanoseconds delay) override;
  void post_begin(std::uint64_t id) override;
  void on_task_done(std::uint64_t id, bool is_future, std::exception_ptr error) override;

  // -- used by Service ----------------------------------------------------------------------
  coro_host& host() noexcept { return host_; }
  /// The timer relay this actor schedules its timeouts through.
  [[nodiscard]] const caf::actor& relay() const noexcept { return relay_; }
  Service& service() noexcept { return *svc_; }
  /// Keeps this actor alive while the service runs (released when it stops).
  void keep_alive(bool on);
  /// Runs a lifecycle step as a root task and answers `rp` when it ends. A `final`
  /// step (a stop request) that leaves the service shut down also ends the actor.
  void run_lifecycle(task<void> step, const char* name, caf::response_promise rp,
                     bool final = false);
  /// Answers a lifecycle request at the end of the current turn of this actor (at once
  /// outside one), after what the step set off in the same turn: a crash's stop
  /// sequence, then the actor's exit. The requester then gets the answer and the down
  /// message together, in one wake-up instead of two.
  void answer(caf::response_promise rp, caf::error error);
  /// Exits the actor with the crash reason (after the crash's stop sequence).
  void exit_crashed();
  /// `Label <- <what error says>`: the chain an error of this service travels as. The
  /// service's own crash reason is described once and reused.
  std::string failure_chain(const std::exception_ptr& error);
  /// Answers every pending wait-until-stopped request.
  void notify_stopped();
  /// True once the service's stop sequence has finished or the actor is exiting.
  [[nodiscard]] bool finished() const noexcept;

  /// Spawns an actor hosting `svc` (which must not be hosted by a live actor) at
  /// `depth` in the tree, below `parent`. `parent_actor`: the actor to tell if this one
  /// exits with an error (a child's parent; supervisors monitor instead).
  static caf::actor spawn(caf::actor_system& sys, std::shared_ptr<Service> svc, int depth,
                          std::weak_ptr<Service> parent, caf::actor_addr parent_actor = {});

 private:
  /// The behavior all service actors share, and the actor it runs for right now.
  static caf::behavior shared_behavior();
  static service_actor& consuming() noexcept;

  std::shared_ptr<Service> svc_;
  /// What this actor's thread is doing, for the blocking detector (worker --debug).
  ActivitySlot activity_;
  coro_host host_;
  caf::actor relay_;
  caf::actor_addr parent_;
  caf::strong_actor_ptr keep_alive_;
  /// Requests answered once the service stopped (wait-until-stopped, and a final
  /// stop: answered from on_exit, see run_lifecycle).
  std::vector<caf::response_promise> stopped_waiters_;
  /// A lifecycle step running as a root task, with the request to answer.
  struct lifecycle_request {
    std::uint64_t id;
    caf::response_promise rp;
    bool final;
  };
  std::vector<lifecycle_request> lifecycle_requests_;

  /// Answers held until the end of the current turn (see answer()): nearly always one.
  std::optional<std::pair<caf::response_promise, caf::error>> turn_answer_;
  std::vector<std::pair<caf::response_promise, caf::error>> more_turn_answers_;
  bool in_turn_ = false;
  void flush_answers();
  static void deliver(caf::response_promise& rp, caf::error error);
  bool exiting_ = false;

 public:
  /// The child whose stop this service awaits in its stop sequence (stop_children): if
  /// it crashes meanwhile, the stop's answer carries that and it is logged, as mode's
  /// "an error stopping a child is logged, the others still stop"; it crashes nothing.
  caf::actor_addr child_in_stop;
};

/// The actor hosting the coroutine running right now (nullptr outside one).
service_actor* running_actor() noexcept;

/// Awaits a request to another service's actor: resumes with the response or rethrows
/// its error (as ServiceCrashed). For awaits that user code makes (ServiceHandle's
/// awaitable calls); the framework's own use try_request_awaiter.
class request_awaiter : public wait_awaiter {
 public:
  request_awaiter(service_actor* self, caf::actor dest, caf::message msg, const char* what,
                  std::source_location where = std::source_location::current());
  caf::message await_resume();

 protected:
  void on_registered(std::uint64_t id) override;

  service_actor* self_;
  caf::actor dest_;
  caf::message msg_;
  caf::message result_;
  caf::error error_;
};

/// A request_awaiter that resumes with the error (empty on success) instead of throwing
/// it: a throw is a full unwind, and the framework only passes errors on.
class try_request_awaiter : public request_awaiter {
 public:
  using request_awaiter::request_awaiter;
  caf::error await_resume();
};

}  // namespace mode::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mode::detail::actor_job_ptr)
