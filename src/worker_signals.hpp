// Signal handling for the Worker without signal handlers: the signals are blocked in
// every thread and taken by sigwait on one dedicated thread, where reacting to them
// may lock, allocate and log (none of which is async-signal-safe in a handler).
// Private to the library.
#pragma once

#include <signal.h>

#include <atomic>
#include <functional>
#include <initializer_list>
#include <thread>

namespace mode::detail {

/// Blocks `signals` in the calling thread, and so in every thread it starts later
/// (the actor system's threads among them): create it before the actor system. On
/// destruction, discards those still pending and restores the previous mask.
class signal_block {
 public:
  explicit signal_block(std::initializer_list<int> signals);
  ~signal_block();
  signal_block(const signal_block&) = delete;
  signal_block& operator=(const signal_block&) = delete;

  /// The blocked signals.
  [[nodiscard]] const sigset_t& set() const noexcept { return set_; }

 private:
  sigset_t set_;
  sigset_t old_;
};

/// Takes the signals of `set` (which must be blocked, see signal_block) with sigwait
/// on its own thread and calls `handler(signo)` there, one signal at a time.
class signal_thread {
 public:
  signal_thread(const sigset_t& set, std::function<void(int)> handler);
  /// Stops and joins the thread.
  ~signal_thread();
  signal_thread(const signal_thread&) = delete;
  signal_thread& operator=(const signal_thread&) = delete;

  /// Stops and joins the thread (idempotent). Not from the handler.
  void stop();

 private:
  sigset_t set_;
  int wake_signal_ = 0;
  std::atomic<bool> quit_{false};
  std::function<void(int)> handler_;
  std::thread thread_;
};

/// "SIGINT", "SIGTERM", ... ("signal N" for others).
const char* signal_name(int signo) noexcept;

}  // namespace mode::detail
