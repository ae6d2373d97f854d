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
// in awaited calls. A second one: a co_await on the right of `&&` in a loop condition
// (`while (!error && co_await it.next())`) loses what the body assigned; await on a
// line of its own.
#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <stdexcept>
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
template <class T>
struct error_awaiter;
template <class T>
error_awaiter<T> error_of(task<T>&& t) noexcept;

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

  /// Set once the coroutine ran to its end, or ended through fail_with().
  bool finished_ = false;

  struct final_awaiter {
    bool await_ready() const noexcept { return false; }
    template <class Promise>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> self) noexcept {
      return self.promise().complete();
    }
    void await_resume() const noexcept {}
  };

  /// Marks the task finished and says who runs next: its awaiter, or nobody.
  std::coroutine_handle<> complete() noexcept {
    finished_ = true;
    if (root_ != nullptr)
      notify_root_finished(root_);
    if (inline_ || !continuation_)
      return std::noop_coroutine();
    return continuation_;
  }

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
///
/// An empty task<void> (default-constructed, `return {};` from a function returning
/// task<void>) is a task that has already finished: awaiting it does nothing and costs
/// no coroutine frame. Service's default hooks return one.
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
  [[nodiscard]] bool done() const noexcept { return handle_ && handle_.promise().finished_; }

  // -- awaiting ---------------------------------------------------------------

  /// Awaiting a task runs it; an empty task<void> counts as finished (see below).
  struct awaiter {
    handle_type child;
    bool await_ready() const noexcept { return !child || child.promise().finished_; }
    bool await_suspend(std::coroutine_handle<> parent) {
      auto& p = child.promise();
      p.continuation_ = parent;
      p.inline_ = true;
      child.resume();
      p.inline_ = false;
      // Finished without suspending: let the parent go on without a suspension.
      return !p.finished_;
    }
    T await_resume() {
      if constexpr (std::is_void_v<T>) {
        if (child)
          child.promise().take();
      } else {
        if (!child)
          throw std::logic_error("mode: co_await on an empty mode::task<T>");
        return child.promise().take();
      }
    }
  };

  awaiter operator co_await() && noexcept { return awaiter{handle_}; }
  awaiter operator co_await() & noexcept { return awaiter{handle_}; }

  // -- internal ----------------------------------------------------------------

  /// Hands the coroutine over (used by the service that runs it as a root task).
  handle_type release() noexcept { return std::exchange(handle_, {}); }

 private:
  template <class U>
  friend detail::error_awaiter<U> detail::error_of(task<U>&& t) noexcept;

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

// -- the framework's own awaits: exceptions passed on, not rethrown ------------------
//
// A rethrow is a full unwind, and a crash used to be rethrown at every level of the
// lifecycle (hook -> start -> lifecycle step -> ...). Framework coroutines pass the
// exception_ptr on instead; it is rethrown only where user code awaits.

/// Awaits a task like `co_await t`, but yields the exception it ended with (null if it
/// returned) instead of rethrowing it. The task must live until the co_await ends, as
/// a temporary in the same expression does: `co_await error_of(on_start())`.
template <class T>
struct error_awaiter {
  explicit error_awaiter(typename task<T>::handle_type child) noexcept : inner{child} {}
  typename task<T>::awaiter inner;
  bool await_ready() const noexcept { return inner.await_ready(); }
  bool await_suspend(std::coroutine_handle<> parent) { return inner.await_suspend(parent); }
  std::exception_ptr await_resume() const noexcept {
    return inner.child ? inner.child.promise().exception_ : nullptr;
  }
};

template <class T>
error_awaiter<T> error_of(task<T>&& t) noexcept {
  return error_awaiter<T>{t.handle_};
}

/// `co_await fail_with(e)` ends the coroutine as if `e` escaped it, without a throw:
/// its awaiter sees `e` (rethrown by `co_await`, returned by error_of). The coroutine
/// never resumes; its owner destroys the frame as it would a finished one.
class fail_with {
 public:
  explicit fail_with(std::exception_ptr error) noexcept : error_(std::move(error)) {}
  bool await_ready() const noexcept { return false; }
  template <class Promise>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> self) noexcept {
    auto& p = self.promise();
    p.exception_ = std::move(error_);
    return p.complete();
  }
  void await_resume() const noexcept {}

 private:
  std::exception_ptr error_;
};

}  // namespace detail

}  // namespace mode
