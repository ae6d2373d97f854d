// A child process for multi-process tests: spawned with a clean signal state, its stdout
// and stderr read into strings, killed (SIGKILL) and reaped if the test did not wait for it.
#pragma once

#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace mode::testing {

class child_process {
 public:
  using steady = std::chrono::steady_clock;

  /// Runs `program` with `args`; `env` entries (`NAME=value`) are added to this
  /// process's environment for it.
  child_process(std::string program, std::vector<std::string> args,
                std::vector<std::string> env = {}) {
    int out[2];
    int err[2];
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(err, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    // The child starts with a clean signal state whatever this process blocked.
    sigset_t none;
    sigemptyset(&none);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int sig : {SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGPIPE})
      sigaddset(&defaults, sig);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    args.insert(args.begin(), program);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (char** e = environ; *e != nullptr; ++e)
      envp.push_back(*e);
    for (auto& e : env)
      envp.push_back(e.data());
    envp.push_back(nullptr);
    int rc = ::posix_spawn(&pid_, program.c_str(), &actions, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(out[1]);
    ::close(err[1]);
    out_fd_ = out[0];
    err_fd_ = err[0];
    auto what = "cannot run " + program;
    REQUIRE_MESSAGE(rc == 0, what);
  }

  ~child_process() {
    if (!exited_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    for (int fd : {out_fd_, err_fd_})
      if (fd >= 0)
        ::close(fd);
  }

  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  void signal(int sig) { REQUIRE(::kill(pid_, sig) == 0); }

  pid_t pid() const noexcept { return pid_; }

  /// Reads until stderr contains `text` (or stdout, if `on_stdout`); false on timeout
  /// or when the child closed the stream first.
  bool wait_for(const std::string& text, std::chrono::seconds limit = std::chrono::seconds{30},
                bool on_stdout = false) {
    auto deadline = steady::now() + limit;
    auto& buf = on_stdout ? out_ : err_;
    while (buf.find(text) == std::string::npos) {
      if (!pump(deadline))
        return buf.find(text) != std::string::npos;
    }
    return true;
  }

  /// Waits until the child exits (reading its output to the end); its exit status, or
  /// -1 if it did not exit within `limit`.
  int wait_exit(std::chrono::seconds limit = std::chrono::seconds{30}) {
    auto deadline = steady::now() + limit;
    while (pump(deadline)) {
    }
    while (!exited_ && steady::now() < deadline) {
      int status = 0;
      auto r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{5});
    }
    return exited_ ? status_ : -1;
  }

  const std::string& err() const { return err_; }
  const std::string& out() const { return out_; }

 private:
  // Reads what is available; false once both streams closed or the deadline passed.
  bool pump(steady::time_point deadline) {
    pollfd fds[2];
    nfds_t n = 0;
    for (int fd : {out_fd_, err_fd_})
      if (fd >= 0)
        fds[n++] = pollfd{fd, POLLIN, 0};
    if (n == 0)
      return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
    if (left.count() <= 0)
      return false;
    if (::poll(fds, n, static_cast<int>(std::min<long>(left.count(), 100))) < 0)
      return true;
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents == 0)
        continue;
      char buf[4096];
      auto r = ::read(fds[i].fd, buf, sizeof buf);
      auto& fd = fds[i].fd == out_fd_ ? out_fd_ : err_fd_;
      auto& text = fds[i].fd == out_fd_ ? out_ : err_;
      if (r > 0) {
        text.append(buf, static_cast<std::size_t>(r));
      } else if (r == 0) {
        ::close(fd);
        fd = -1;
      }
    }
    return true;
  }

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  std::string err_;
  bool exited_ = false;
  int status_ = -1;
};

}  // namespace mode::testing
