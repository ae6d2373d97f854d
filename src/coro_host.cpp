#include "mode/detail/coro_host.hpp"

#include <algorithm>

#include "mode/detail/awaiters.hpp"
#include "mode/detail/exception_cast.hpp"

namespace mode::detail {

namespace {

thread_local coro_host* tls_running_host = nullptr;

/// Marks `host` as the one running coroutines on this thread for one resume.
class running_scope {
 public:
  explicit running_scope(coro_host* host) noexcept
      : previous_(std::exchange(tls_running_host, host)) {}
  running_scope(const running_scope&) = delete;
  running_scope& operator=(const running_scope&) = delete;
  ~running_scope() { tls_running_host = previous_; }

 private:
  coro_host* previous_;
};

}  // namespace

coro_host* running_host() noexcept {
  return tls_running_host;
}

void task_promise_base::notify_root_finished(task_record* record) noexcept {
  record->host->on_root_finished(record);
}

coro_host::~coro_host() {
  destroy_all();
}

// -- root tasks -----------------------------------------------------------------

std::uint64_t coro_host::launch(task<void> t, std::string name, bool is_future, bool deferred) {
  if (!t.valid())
    return 0;
  auto id = next_id_++;
  auto owned = std::make_unique<task_record>();
  auto& record = *owned;
  record.id = id;
  record.name = std::move(name);
  record.root = t.release();
  record.host = this;
  record.is_future = is_future;
  record.root.promise().root_ = &record;
  tasks_.insert(id, std::move(owned));
  if (deferred) {
    if (depth_ > 0 || draining_)
      soon_.push_back(id);  // no message: drain() begins it when the running one yields
    else
      driver_.post_begin(id);
  }
  return id;
}

task_record* coro_host::record(std::uint64_t id) noexcept {
  auto* owned = tasks_.find(id);
  return owned != nullptr ? owned->get() : nullptr;
}

void coro_host::begin(std::uint64_t id) {
  auto* r = record(id);
  if (r == nullptr || r->begun)
    return;
  run_first_step(*r);
  drain();
}

void coro_host::run_first_step(task_record& record) {
  record.begun = true;
  auto* previous = std::exchange(current_, &record);
  running_scope scope{this};
  ++depth_;
  record.root.resume();
  --depth_;
  current_ = previous;
}

std::size_t coro_host::pending_futures() const noexcept {
  std::size_t n = 0;
  tasks_.for_each([&n](std::uint64_t, const std::unique_ptr<task_record>& r) {
    if (r->is_future && !r->finished)
      ++n;
  });
  return n;
}

void coro_host::cancel_futures() {
  cancel_tasks(tasks_.ids_where(
      [](const std::unique_ptr<task_record>& r) { return r->is_future && !r->finished; }));
}

void coro_host::cancel_tasks(std::vector<std::uint64_t> ids) {
  if (current_ != nullptr)
    std::erase(ids, current_->id);
  // Newest first, as mode cancels its futures in reverse.
  std::sort(ids.rbegin(), ids.rend());
  for (auto id : ids) {
    auto* r = record(id);
    if (r != nullptr)
      r->cancelled = true;
    if (r != nullptr && r->begun && !r->finished && r->waiting != nullptr)
      resume_node(*r->waiting, wake_reason::cancelled);
  }
  // Whatever did not end on cancellation (never begun, or suspended again) goes now:
  // destroying the frame runs its destructors, and it never resumes.
  for (auto id : ids) {
    auto* r = record(id);
    if (r == nullptr || r->finished)
      continue;
    if (r->waiting != nullptr)
      forget(*r->waiting);
    // The frame goes first: its destructors may still reach the record (wait nodes).
    r->root.destroy();
    tasks_.take(id);
    driver_.on_task_done(id, true, nullptr);
  }
  drain();
}

void coro_host::destroy_all() noexcept {
  // Frames may hold wait_nodes that call forget() from their destructors: keep the
  // tables alive until every frame is gone. Newest first.
  while (!tasks_.empty()) {
    auto owned = tasks_.take_last();
    owned->root.destroy();
  }
  waits_.clear();
  finished_ = nullptr;
  soon_.clear();
}

// -- waits ------------------------------------------------------------------------

std::uint64_t coro_host::suspend(wait_node& node, std::coroutine_handle<> h) {
  node.id = next_id_++;
  node.handle = h;
  node.reason = wake_reason::none;
  node.task = current_;
  if (current_ != nullptr)
    current_->waiting = &node;
  waits_.insert(node.id, &node);
  return node.id;
}

void coro_host::forget(wait_node& node) noexcept {
  if (node.id == 0)
    return;
  if (auto* registered = waits_.find(node.id); registered != nullptr && *registered == &node) {
    waits_.take(node.id);
    if (node.task != nullptr && node.task->waiting == &node)
      node.task->waiting = nullptr;
  }
  node.id = 0;
}

void coro_host::resume(std::uint64_t id, wake_reason reason) {
  auto* node = find(id);
  if (node == nullptr)
    return;
  resume_node(*node, reason);
  drain();
}

void coro_host::wake_stopped() {
  auto ids = waits_.ids_where([](wait_node* node) { return node->wake_on_stop; });
  for (auto id : ids)
    if (auto* node = find(id))
      resume_node(*node, wake_reason::stopped);
  drain();
}

void coro_host::resume_node(wait_node& node, wake_reason reason) {
  waits_.take(node.id);
  node.id = 0;
  node.reason = reason;
  auto* record = node.task;
  if (record != nullptr && record->waiting == &node)
    record->waiting = nullptr;
  auto* previous = std::exchange(current_, record);
  running_scope scope{this};
  ++depth_;
  node.handle.resume();
  --depth_;
  current_ = previous;
}

std::vector<task_trace> coro_host::traces() const {
  std::vector<const task_record*> records;  // by id: the table is in id order
  tasks_.for_each([&records](std::uint64_t, const std::unique_ptr<task_record>& r) {
    if (!r->finished)
      records.push_back(r.get());
  });
  std::vector<task_trace> result;
  for (auto* record : records) {
    task_trace trace;
    trace.name = record->name;
    if (record->waiting != nullptr) {
      trace.suspended = true;
      trace.what = record->waiting->what;
      trace.where = record->waiting->where;
    } else {
      trace.what = record->begun ? "running" : "not started";
    }
    result.push_back(std::move(trace));
  }
  return result;
}

// -- internal -----------------------------------------------------------------------

void coro_host::on_root_finished(task_record* record) noexcept {
  record->finished = true;
  record->waiting = nullptr;
  record->next_finished = std::exchange(finished_, record);
}

void coro_host::drain() {
  // Only the outermost resume reaps: an inner one may run while a finished frame's
  // caller is still on the stack.
  if (depth_ > 0 || draining_)
    return;
  struct draining_scope {
    coro_host& host;
    explicit draining_scope(coro_host& h) noexcept : host(h) { host.draining_ = true; }
    draining_scope(const draining_scope&) = delete;
    draining_scope& operator=(const draining_scope&) = delete;
    ~draining_scope() {
      host.draining_ = false;
      // Left early by an exception: what did not begin yet begins on a later turn.
      for (auto id : host.soon_)
        if (auto* r = host.record(id); r != nullptr && !r->begun)
          host.driver_.post_begin(id);
      host.soon_.clear();
    }
  } scope{*this};
  for (std::size_t next = 0;;) {
    if (finished_ != nullptr) {
      auto& record = *std::exchange(finished_, finished_->next_finished);
      auto id = record.id;
      bool is_future = record.is_future;
      // Read in place, not rethrown. A future ending with CancelledError ends normally,
      // as mode's _execute_task has it; a lifecycle step is never cancelled, so one that
      // ends with it was failed by its own code and reports that, as mode's start() does.
      auto error = std::move(record.root.promise().exception_);
      if (error && is_future && exception_ptr_cast<CancelledError>(error) != nullptr)
        error = nullptr;
      record.root.destroy();
      tasks_.take(id);
      driver_.on_task_done(id, is_future, std::move(error));
      continue;
    }
    if (next < soon_.size()) {
      auto* r = record(soon_[next++]);
      if (r != nullptr && !r->begun)
        run_first_step(*r);
      continue;
    }
    return;
  }
}

}  // namespace mode::detail
