// The crash path costs one unwind: the user's own throw. A rethrow is a full unwind
// (as expensive as the rest of a restart), so the framework passes exception_ptrs on
// and reads them in place. This file counts unwinds by interposing the C++ runtime's
// entry points for them (throw and std::rethrow_exception call _Unwind_RaiseException,
// `throw;` calls _Unwind_Resume_or_Rethrow), on virtual time: one thread, nothing
// else throwing meanwhile.
#include <doctest/doctest.h>

#include <dlfcn.h>
#include <unwind.h>

#include <atomic>
#include <stdexcept>

#include "mode/service_handle.hpp"
#include "mode/supervisors.hpp"
#include "test_support.hpp"

using namespace std::chrono_literals;
using mode::task;
using mode::testing::virtual_time_fixture;

namespace {

std::atomic<int> unwinds{0};

template <class Fn>
Fn next_definition(const char* name) {
  auto* fn = reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, name));
  if (fn == nullptr)
    std::abort();  // no unwinder to forward to: nothing in this process could throw
  return fn;
}

}  // namespace

// Seen by libstdc++ before libgcc_s's own (an executable's definitions come first).
extern "C" _Unwind_Reason_Code _Unwind_RaiseException(_Unwind_Exception* e) {
  using fn = _Unwind_Reason_Code (*)(_Unwind_Exception*);
  static const fn real = next_definition<fn>("_Unwind_RaiseException");
  unwinds.fetch_add(1, std::memory_order_relaxed);
  return real(e);
}

extern "C" _Unwind_Reason_Code _Unwind_Resume_or_Rethrow(_Unwind_Exception* e) {
  using fn = _Unwind_Reason_Code (*)(_Unwind_Exception*);
  static const fn real = next_definition<fn>("_Unwind_Resume_or_Rethrow");
  unwinds.fetch_add(1, std::memory_order_relaxed);
  return real(e);
}

namespace {

enum class how { thrown, task_thrown, crash_call, timer_thrown };

/// Fails at its first start, in the way `kind` says; starts cleanly after that.
class FailsOnce : public mode::Service {
 public:
  explicit FailsOnce(how kind) : kind_(kind) {
    if (kind_ == how::task_thrown)
      add_task(&FailsOnce::work, "FailsOnce.work");
    if (kind_ == how::timer_thrown)
      timer(1s, &FailsOnce::tick);
  }
  task<void> on_started() override {
    ++starts;
    if (starts > 1 || kind_ == how::task_thrown || kind_ == how::timer_thrown)
      co_return;
    if (kind_ == how::thrown)
      throw std::runtime_error("thrown in on_started");
    crash("crash() in on_started");
  }
  int starts = 0;

 private:
  task<void> work() {
    if (starts == 1)
      throw std::runtime_error("thrown in a task");
    co_return;
  }
  task<void> tick() {
    if (starts == 1)
      throw std::runtime_error("thrown in a timer");
    co_return;
  }
  how kind_;
};

/// Unwinds from starting a supervisor holding one FailsOnce until it runs again.
int unwinds_for_one_restart(how kind) {
  virtual_time_fixture fx;
  mode::get_logger("mode.services")->set_level(spdlog::level::off);
  mode::get_logger("mode.supervisors")->set_level(spdlog::level::off);
  auto sup = std::make_shared<mode::OneForOneSupervisor>();
  auto child = std::make_shared<FailsOnce>(kind);
  sup->add(child);
  mode::ServiceHandle h{fx.sys, sup};
  fx.run();
  auto before = unwinds.load();
  h.send_start();
  fx.run();
  if (kind == how::timer_thrown)
    fx.advance(1100ms);
  auto after = unwinds.load();
  CHECK(child->starts == 2);  // it crashed once and was restarted
  h.send_stop();
  fx.run();
  mode::get_logger("mode.services")->set_level(spdlog::level::info);
  mode::get_logger("mode.supervisors")->set_level(spdlog::level::info);
  return after - before;
}

}  // namespace

TEST_CASE("the unwind counter sees a throw and a rethrow" * doctest::timeout(10)) {
  auto before = unwinds.load();
  std::exception_ptr ep;
  try {
    throw std::runtime_error("counted");
  } catch (...) {
    ep = std::current_exception();
  }
  CHECK(unwinds.load() - before == 1);
  try {
    std::rethrow_exception(ep);
  } catch (const std::exception&) {
  }
  CHECK(unwinds.load() - before == 2);
}

TEST_CASE("a crash costs one unwind, the user's throw, wherever it is thrown" *
          doctest::timeout(30)) {
  CHECK(unwinds_for_one_restart(how::thrown) == 1);
  CHECK(unwinds_for_one_restart(how::task_thrown) == 1);
  CHECK(unwinds_for_one_restart(how::timer_thrown) == 1);
  CHECK(unwinds_for_one_restart(how::crash_call) == 0);
}
