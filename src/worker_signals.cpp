#include "worker_signals.hpp"

#include <pthread.h>

#include <cstdio>
#include <ctime>
#include <exception>

namespace mode::detail {

signal_block::signal_block(std::initializer_list<int> signals) {
  sigemptyset(&set_);
  for (int sig : signals)
    sigaddset(&set_, sig);
  pthread_sigmask(SIG_BLOCK, &set_, &old_);
}

signal_block::~signal_block() {
  // A signal that came after the signal thread ended would hit its default action
  // (terminate) as soon as the mask is lifted: the worker is done, drop it.
  timespec zero{};
  while (sigtimedwait(&set_, nullptr, &zero) > 0) {
  }
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

signal_thread::signal_thread(const sigset_t& set, std::function<void(int)> handler)
    : set_(set), handler_(std::move(handler)) {
  for (int sig = 1; sig < NSIG; ++sig)
    if (sigismember(&set_, sig) == 1) {
      wake_signal_ = sig;
      break;
    }
  thread_ = std::thread{[this] {
    for (;;) {
      int sig = 0;
      if (sigwait(&set_, &sig) != 0)
        continue;
      // stop() wakes the thread with one of the signals after setting quit_.
      if (quit_.load())
        return;
      try {
        handler_(sig);
      } catch (const std::exception& e) {
        // The thread must go on taking signals: a lost SIGTERM would be worse.
        std::fprintf(stderr, "mode: error handling %s: %s\n", signal_name(sig), e.what());
      } catch (...) {
        std::fprintf(stderr, "mode: error handling %s\n", signal_name(sig));
      }
    }
  }};
}

signal_thread::~signal_thread() {
  stop();
}

void signal_thread::stop() {
  if (!thread_.joinable())
    return;
  quit_.store(true);
  pthread_kill(thread_.native_handle(), wake_signal_);
  thread_.join();
}

const char* signal_name(int signo) noexcept {
  switch (signo) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case SIGUSR1:
      return "SIGUSR1";
    case SIGUSR2:
      return "SIGUSR2";
    case SIGHUP:
      return "SIGHUP";
    default:
      return "signal";
  }
}

}  // namespace mode::detail
