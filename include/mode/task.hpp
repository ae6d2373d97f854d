// mode::task<T>: the coroutine type of every hook, background task and helper that
// runs on a service's actor.
//
// A task is lazy: nothing runs until it is awaited or handed to its service
// (Service::add_future). Awaiting a task that finishes without suspending does not
// suspend the awaiting coroutine at all, so a loop over many short child tasks never
// grows the stack (g++ 12 turns symmetric transfer into a tail call only when
// optimising, and not under ASan). A task suspended on a service's sleep, wait or
// request is resumed by a message to that service's actor, never by another thread.
//
// A g++ 12 pitfall (measured with Debian's 12.2): a temporary of aggregate type (a
// lambda, a brace-initialised struct) created inside a co_await expression is destroyed
// twice. `co_await f([x] {...})` corrupts x; name the lambda first:
// `auto fn = [x] {...}; co_await f(fn);`. mode-cpp's own API takes no such arguments
// in awaited calls.
#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace mode {

/// Thrown into a suspended coroutine when its service cancels it (at stop, once
/// sleeps and waits have had their chance to return). mode's asyncio.CancelledError.
class CancelledError : public std::exception {
 public:
  const char* what() const noexcept override { return "mode::CancelledError"; }
};

template <class T = void>
class task;

namespace detail {

struct task_record;

/// State shared by every task promise, whatever its result type.
struct task_promise_base {
  /// Who awaits this task; empty for a root task run by a service.
  std::coroutine_handle<> continuation_;
  /// Set while the awaiting coroutine is still inside await_suspend: a task that
  /// finishes then returns to it instead of resuming it (see task::awaiter).
  bool inline_ = false;
  /// For a root task: the record its service keeps about it.
  task_record* root_ = nullptr;
  std::exception_ptr exception_;

  struct final_awaiter {
    bool await_ready() const noexcept { return false; }
    template <class Promise>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> self) noexcept {
      auto& p = self.promise();
      if (p.root_ != nullptr)
        notify_root_finished(p.root_);
      if (p.inline_ || !p.continuation_)
        return std::noop_coroutine();
      return p.continuation_;
    }
    void await_resume() const noexcept {}
  };

  std::suspend_always initial_suspend() const noexcept { return {}; }
  final_awaiter final_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { exception_ = std::current_exception(); }

  /// Tells the service hosting a root task that it ran to its end.
  static void notify_root_finished(task_record* record) noexcept;
};

template <class T>
struct task_promise : task_promise_base {
  std::optional<T> value_;
  task<T> get_return_object() noexcept;
  template <class U>
  requires std::is_convertible_v<U&&, T>
  void return_value(U&& value) { value_.emplace(std::forward<U>(value)); }
  T take() {
    if (exception_)
      std::rethrow_exception(exception_);
    return std::move(*value_);
  }
};

template <>
struct task_promise<void> : task_promise_base {
  task<void> get_return_object() noexcept;
  void return_void() const noexcept {}
  void take() const {
    if (exception_)
      std::rethrow_exception(exception_);
  }
};

}  // namespace detail

/// A coroutine returning T, run on the actor of the service that awaits it.
template <class T>
class [[nodiscard]] task {
 public:
  using promise_type = detail::task_promise<T>;
  using handle_type = std::coroutine_handle<promise_type>;
  using value_type = T;

  // -- constructors, destructors, and assignment operators -------------------

  task() noexcept = default;
  explicit task(handle_type h) noexcept : handle_(h) {}
  task(task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  task& operator=(task&& other) noexcept {
    if (this != &other) {
      reset();
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  ~task() { reset(); }

  // -- observers -------------------------------------------------------------

  /// True if this object owns a coroutine.
  [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(handle_); }
  /// True once the coroutine ran to its end (returned or threw).
  [[nodiscard]] bool done() const noexcept { return handle_ && handle_.done(); }

  // -- awaiting ---------------------------------------------------------------

  struct awaiter {
    handle_type child;
    bool await_ready() const noexcept { return !child || child.done(); }
    bool await_suspend(std::coroutine_handle<> parent) {
      auto& p = child.promise();
      p.continuation_ = parent;
      p.inline_ = true;
      child.resume();
      p.inline_ = false;
      // Finished without suspending: let the parent go on without a suspension.
      return !child.done();
    }
    T await_resume() { return child.promise().take(); }
  };

  awaiter operator co_await() && noexcept { return awaiter{handle_}; }
  awaiter operator co_await() & noexcept { return awaiter{handle_}; }

  // -- internal ----------------------------------------------------------------

  /// Hands the coroutine over (used by the service that runs it as a root task).
  handle_type release() noexcept { return std::exchange(handle_, {}); }

 private:
  void reset() noexcept {
    if (handle_)
      std::exchange(handle_, {}).destroy();
  }

  handle_type handle_;
};

namespace detail {

template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
  return task<T>{std::coroutine_handle<task_promise<T>>::from_promise(*this)};
}

inline task<void> task_promise<void>::get_return_object() noexcept {
  return task<void>{std::coroutine_handle<task_promise<void>>::from_promise(*this)};
}

}  // namespace detail

}  // namespace mode
