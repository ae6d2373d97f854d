// The coroutine host of one service: it owns the frames of the service's root tasks,
// keeps the table of suspended waits, and resumes them when their wake-up arrives.
//
// Everything here runs on the service's actor. Wake-ups (timers, responses, events,
// stop) name a wait by id, never by coroutine handle, so a wake-up for a wait that has
// already ended (timed out, cancelled, its frame destroyed) finds nothing and is
// dropped. The host never talks to CAF itself: it asks its driver (the actor) to post
// messages, which keeps this file framework-neutral and testable.
#pragma once

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <source_location>
#include <string>
#include <unordered_map>
#include <vector>

#include "mode/detail/id_table.hpp"
#include "mode/task.hpp"

namespace mode::detail {

class coro_host;

/// Why a suspended wait was resumed.
enum class wake_reason : std::uint8_t {
  none,       ///< still pending
  fired,      ///< what it waited for happened
  timed_out,  ///< its timeout passed first
  stopped,    ///< its service stopped (sleep and wait return early)
  cancelled,  ///< its task is being cancelled: await_resume throws CancelledError
};

/// What the host needs from the actor that runs it.
class host_driver {
 public:
  virtual ~host_driver() = default;
  /// Resume wait `id` with reason `fired` on a later turn of the actor.
  virtual void post_wake(std::uint64_t id) = 0;
  /// Resume wait `id` with reason `timed_out` after `delay`, unless resumed before.
  virtual void schedule_timeout(std::uint64_t id, std::chrono::nanoseconds delay) = 0;
  /// Begin root task `id` on a later turn of the actor.
  virtual void post_begin(std::uint64_t id) = 0;
  /// A root task ended; `error` is set if it ended with an exception other than
  /// CancelledError.
  virtual void on_task_done(std::uint64_t id, bool is_future, std::exception_ptr error) = 0;
};

/// One suspended co_await. Lives inside the awaiting coroutine's frame.
struct wait_node {
  std::coroutine_handle<> handle;
  task_record* task = nullptr;
  std::source_location where;
  const char* what = "";
  std::uint64_t id = 0;
  wake_reason reason = wake_reason::none;
  bool wake_on_stop = false;
  /// The awaiter owning this node, for wake-ups that carry a result.
  void* context = nullptr;
};

/// One root task of a service: a background task, a future, or a lifecycle step.
struct task_record {
  std::uint64_t id = 0;
  std::string name;
  std::coroutine_handle<task_promise<void>> root;
  coro_host* host = nullptr;
  wait_node* waiting = nullptr;  ///< the innermost wait, for tracebacks
  bool is_future = true;         ///< cancelled at stop (lifecycle steps are not)
  bool begun = false;
  bool finished = false;
  /// Its host is cancelling it (stop): a CancelledError it ends with is that, not one
  /// its own code threw.
  bool cancelled = false;
  task_record* next_finished = nullptr;  ///< the host's list of records to reap
};

/// Where one pending task is suspended, for tracebacks().
struct task_trace {
  std::string name;
  std::string what;
  std::source_location where;
  bool suspended = false;
};

class coro_host {
 public:
  explicit coro_host(host_driver& driver) : driver_(driver) {}
  coro_host(const coro_host&) = delete;
  coro_host& operator=(const coro_host&) = delete;
  ~coro_host();

  // -- root tasks ---------------------------------------------------------------

  /// Takes `t` as a root task and returns its id (0 for an empty task, which has
  /// nothing to run). With `deferred` it begins as soon as the coroutine running now
  /// suspends or ends (as an asyncio task begins when the current one yields), or on a
  /// later turn of the actor if none is running; otherwise when the caller calls begin().
  std::uint64_t launch(task<void> t, std::string name, bool is_future, bool deferred = true);

  /// Begins root task `id` now (called for the driver's post_begin message).
  void begin(std::uint64_t id);

  /// Number of root tasks that are futures (not lifecycle steps) and not finished.
  [[nodiscard]] std::size_t pending_futures() const noexcept;

  /// Cancels every future (lifecycle steps and the running task are kept).
  void cancel_futures();

  /// Resumes the suspended tasks among `ids` with CancelledError, then destroys the
  /// frames of those that suspend again or have not begun: their destructors run and
  /// they never resume. Unknown or finished ids, and the running task, are skipped.
  void cancel_tasks(std::vector<std::uint64_t> ids);

  /// Destroys every frame (the actor is going away). No coroutine resumes after this.
  void destroy_all() noexcept;

  // -- waits --------------------------------------------------------------------

  /// Registers `node` as suspended; returns its id.
  std::uint64_t suspend(wait_node& node, std::coroutine_handle<> h);

  /// Removes `node` if it is still registered (its frame is going away).
  void forget(wait_node& node) noexcept;

  /// The wait registered as `id`, or nullptr if it already ended.
  [[nodiscard]] wait_node* find(std::uint64_t id) const noexcept {
    auto* node = waits_.find(id);
    return node != nullptr ? *node : nullptr;
  }

  /// Resumes wait `id` (no-op if it already ended).
  void resume(std::uint64_t id, wake_reason reason);

  /// Resumes every wait that returns early on stop, with reason `stopped`.
  void wake_stopped();

  /// The root task running right now (nullptr between turns).
  [[nodiscard]] task_record* current() const noexcept { return current_; }

  [[nodiscard]] host_driver& driver() noexcept { return driver_; }

  /// An opaque tag the driver may set (the actor layer keeps its actor here, so that
  /// finding the actor of the running coroutine costs no dynamic_cast).
  void set_owner(void* owner) noexcept { owner_ = owner; }
  [[nodiscard]] void* owner() const noexcept { return owner_; }

  /// Where every pending root task is suspended.
  [[nodiscard]] std::vector<task_trace> traces() const;

  // -- internal -----------------------------------------------------------------

  /// Called from a root task's final_suspend.
  void on_root_finished(task_record* record) noexcept;

 private:
  void resume_node(wait_node& node, wake_reason reason);
  /// The record of root task `id`, or nullptr.
  task_record* record(std::uint64_t id) noexcept;
  /// Begins root task `record` (not yet begun) without reaping afterwards.
  void run_first_step(task_record& record);
  void drain();

  host_driver& driver_;
  void* owner_ = nullptr;
  std::uint64_t next_id_ = 1;
  /// The root tasks by id (records on the heap: frames and wait nodes point at them).
  id_table<std::unique_ptr<task_record>> tasks_;
  id_table<wait_node*> waits_;
  /// Finished roots to reap (linked through task_record::next_finished).
  task_record* finished_ = nullptr;
  /// Root tasks to begin once the running coroutine yields (launched while one ran).
  std::vector<std::uint64_t> soon_;
  task_record* current_ = nullptr;
  int depth_ = 0;
  bool draining_ = false;
};

}  // namespace mode::detail
