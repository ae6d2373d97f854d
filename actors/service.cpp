// Service's lifecycle: the parts that run on its actor and talk to other actors.
#include "mode/service.hpp"

#include <stdexcept>

#include "mode/cron.hpp"
#include "mode/detail/exception_cast.hpp"
#include "mode/logging.hpp"
#include "service_actor.hpp"
#include "signal_runtime.hpp"

namespace mode {

using detail::running_actor;
using detail::service_actor;
using detail::wake_reason;

namespace {

service_actor& this_actor(const Service& svc) {
  auto* self = running_actor();
  if (self == nullptr || &self->service() != &svc)
    throw std::logic_error("mode: " + svc.label() +
                           ": lifecycle calls must run on the service's own actor");
  return *self;
}

std::optional<std::chrono::nanoseconds> to_timeout(const std::optional<Seconds>& s) {
  if (!s)
    return std::nullopt;
  return to_nanoseconds(*s);
}

}  // namespace

Service::Service()
    : logger_(get_logger("mode.services")), binding_(std::make_shared<detail::service_binding>()) {}

Service::~Service() = default;

detail::coro_host& Service::host() {
  return this_actor(*this).host();
}

// -- lifecycle ------------------------------------------------------------------------------

task<void> Service::start() {
  // Errors travel as exception_ptrs through these awaits (error_of, fail_with): the
  // one throw of a crash is the hook's own; it is rethrown only where user code awaits.
  auto& self = this_actor(*this);
  if (started_)
    throw std::logic_error(label() + " already started");
  started_ = true;
  started_at_ = self.clock().now();
  self.keep_alive(true);
  detail::signal_service_running(self, true);
  std::exception_ptr error;
  if (!first_start_done_) {
    first_start_done_ = true;
    try {
      for (auto& child : on_init_dependencies())
        add_child(std::move(child));
    } catch (...) {
      error = std::current_exception();
    }
    if (!error)
      error = co_await detail::error_of(on_first_start());
  }
  if (!error && should_stop())
    co_return;
  if (!error) {
    if (log().enabled(mundane_level))
      log().write(mundane_level, "Starting...");
    error = co_await detail::error_of(on_start());
  }
  if (!error && !should_stop()) {
    try {
      for (auto& [name, factory] : task_factories_)
        add_future(factory(), name);
    } catch (...) {
      error = std::current_exception();
    }
    if (!error && !children_.empty())
      error = co_await detail::error_of(start_children());
  }
  if (!error && !should_stop())
    error = co_await detail::error_of(on_started());
  if (error) {
    crash(error);
    co_await detail::fail_with(std::move(error));
  }
}

task<bool> Service::maybe_start() {
  if (started_)
    co_return false;
  co_await start();
  co_return true;
}

task<void> Service::stop() {
  auto& self = this_actor(*this);
  if (stopped_ || stopping_ || !started_) {
    if (!started_ && crashed_)
      self.exit_crashed();
    co_return;
  }
  stopping_ = true;
  stopped_ = true;
  stopped_event_.set();
  if (log().enabled(mundane_level))
    log().write(mundane_level, "Stopping...");
  host().wake_stopped();
  auto guarded = [this](const char* step, std::exception_ptr err) {
    if (!err)
      return;
    if (log().enabled(spdlog::level::err))
      log().error("Error in {}: {}", step, describe_exception(err));
    if (!crashed_)
      mark_crashed(std::move(err));
  };
  guarded("on_stop", co_await detail::error_of(on_stop()));
  if (!binding_->children.empty())
    co_await stop_children(crashed_);
  if (wait_for_shutdown && !shutdown_event_.is_set()) {
    log().debug("Waiting for shutdown");
    detail::event_awaiter awaiter{
        shutdown_event_, &host(), to_nanoseconds(Seconds{shutdown_timeout}),
        false,           false,   std::source_location::current()};
    auto why = co_await awaiter;
    if (why == wake_reason::timed_out)
      log().warn("Timed out waiting for set_shutdown() after {}s: shutting down anyway",
                 shutdown_timeout.count());
  }
  if (host().pending_futures() > 0)
    co_await join_futures();
  if (!contexts_.empty())
    co_await exit_contexts();
  guarded("on_shutdown", co_await detail::error_of(on_shutdown()));
  shutdown_ = true;
  stopping_ = false;
  if (log().enabled(mundane_level))
    log().write(mundane_level, "-Stopped!");
  // A stopped service leaves its signals' CAF groups: a group holds its members alive.
  detail::signal_service_running(self, false);
  if (crashed_) {
    self.exit_crashed();
  } else {
    self.notify_stopped();
    self.keep_alive(false);
  }
}

task<void> Service::restart() {
  if (started_ && !stopped_ && !stopping_)
    co_await stop();
  service_reset();
  auto error = co_await detail::error_of(on_restart());
  if (!error)
    error = co_await detail::error_of(start());
  if (error)
    co_await detail::fail_with(std::move(error));
}

void Service::service_reset() {
  ++restart_count_;
  started_ = stopped_ = shutdown_ = crashed_ = stopping_ = false;
  crash_reason_ = nullptr;
  crash_text_.clear();
  stopped_event_.clear();
  shutdown_event_.clear();
  // Children are reset by their own actors when they are next started.
}

void Service::crash(std::string_view reason) {
  // The text describe_exception() would find, without a rethrow to find it.
  std::string text{"std::runtime_error: "};
  text += reason;
  crash_with(std::make_exception_ptr(std::runtime_error{std::string{reason}}), std::move(text));
}

void Service::crash(std::exception_ptr reason) {
  crash_with(std::move(reason), {});
}

void Service::crash_with(std::exception_ptr reason, std::string text) {
  if (crashed_)
    return;
  mark_crashed(std::move(reason), std::move(text));
  if (log().enabled(spdlog::level::err))
    log().error("Crashed reason={}", crash_text());
  auto& self = this_actor(*this);
  if (started_ && !stopped_) {
    // The crash's stop sequence begins as soon as the running coroutine yields (no
    // message to self when there is one). A stop already in progress finishes the
    // crash when it ends.
    self.host().launch(stop(), "Service.crash", false);
  } else if (!stopping_) {
    self.exit_crashed();
  }
}

void Service::mark_crashed(std::exception_ptr reason, std::string text) {
  crashed_ = true;
  crash_reason_ = std::move(reason);
  crash_text_ = std::move(text);
  stopped_event_.set();
}

const std::string& Service::crash_text() {
  if (crash_text_.empty())
    crash_text_ = describe_exception(crash_reason_);
  return crash_text_;
}

void Service::set_shutdown() {
  shutdown_event_.set();
}

// -- children ------------------------------------------------------------------------------------

void Service::add_child(std::shared_ptr<Service> child) {
  if (!child)
    throw std::invalid_argument("mode: add_dependency(nullptr) on " + label());
  // The lock is for child_handle() on other threads; the service's own reads need none
  // (only it writes children_).
  std::lock_guard<std::mutex> guard{binding_->mtx};
  children_.push_back(std::move(child));
}

namespace {

/// The actor of child number `index`, spawned if it has none alive.
caf::actor child_actor(service_actor& self, Service& parent, std::size_t index) {
  auto& actors = parent.binding()->children;
  if (actors.size() < parent.children().size())
    actors.resize(parent.children().size());
  const auto& child = parent.children()[index];
  auto& slot = actors[index];
  if (slot && child->binding()->get())
    return slot;
  slot = service_actor::spawn(self.home_system(), child, parent.depth() + 1,
                              parent.weak_from_this(), self.address());
  return slot;
}

}  // namespace

task<void> Service::start_children() {
  auto& self = this_actor(*this);
  for (std::size_t i = 0; i < children_.size() && !should_stop(); ++i) {
    auto hdl = child_actor(self, *this, i);
    if (auto err = co_await detail::try_request_awaiter{&self, hdl, detail::maybe_start_message(),
                                                        "child.maybe_start"})
      co_await detail::fail_with(detail::to_exception(err));
  }
}

task<void> Service::stop_children(bool crashed) {
  auto& self = this_actor(*this);
  auto& actors = binding_->children;
  for (auto i = std::min(children_.size(), actors.size()); i-- > 0;) {
    if (i >= actors.size() || !actors[i])
      continue;  // never spawned (or removed while an earlier child stopped)
    auto hdl = actors[i];
    auto child = children_[i];
    caf::error error;
    if (crashed) {
      // mode marks the whole tree crashed: the child crashes too, then we wait for its
      // stop sequence to finish.
      auto reason = crash_reason_ ? crash_text() : std::string{"crashed"};
      self.send(hdl, detail::crash_atom::value, label() + " <- " + reason);
      error = co_await detail::try_request_awaiter{&self, hdl, detail::wait_stopped_message(),
                                                   "child.wait_stopped"};
    } else {
      self.child_in_stop = hdl.address();
      error =
          co_await detail::try_request_awaiter{&self, hdl, detail::stop_message(), "child.stop"};
      self.child_in_stop = nullptr;
      // Its actor ends with this stop, and a crash report of the stop (an error in its
      // on_stop) may still be on its way: an empty slot makes that a report from a child
      // no longer held. A later start spawns a fresh actor anyway.
      if (i < actors.size() && actors[i] == hdl)
        actors[i] = caf::actor{};
      else
        std::replace(actors.begin(), actors.end(), hdl, caf::actor{});
    }
    // A child that is already gone counts as stopped; other errors are logged and the
    // remaining children still stop.
    if (error && !crashed) {
      auto level =
          error == caf::sec::request_receiver_down ? spdlog::level::debug : spdlog::level::err;
      if (log().enabled(level))
        log().log(level, "Error stopping child {}: {}", detail::label_of(*child),
                  detail::error_text(error));
    }
  }
}

task<void> Service::add_runtime_dependency(std::shared_ptr<Service> child) {
  add_child(child);
  if (started_ && !should_stop()) {
    auto& self = this_actor(*this);
    auto hdl = child_actor(self, *this, children_.size() - 1);
    if (auto err = co_await detail::try_request_awaiter{&self, hdl, detail::maybe_start_message(),
                                                        "child.maybe_start"})
      co_await detail::fail_with(detail::to_exception(err));
  }
}

task<void> Service::remove_dependency(std::shared_ptr<Service> child) {
  auto& self = this_actor(*this);
  auto index = static_cast<std::size_t>(std::find(children_.begin(), children_.end(), child) -
                                        children_.begin());
  if (index == children_.size())
    co_return;
  auto& actors = binding_->children;
  caf::actor hdl;
  if (index < actors.size())
    hdl = std::move(actors[index]);
  // Out of both lists before the stop, which suspends: a crash report from it no longer
  // counts, and other coroutines see consistent indexes.
  {
    std::lock_guard<std::mutex> guard{binding_->mtx};
    children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(index));
  }
  if (index < actors.size())
    actors.erase(actors.begin() + static_cast<std::ptrdiff_t>(index));
  if (hdl) {
    auto error =
        co_await detail::try_request_awaiter{&self, hdl, detail::stop_message(), "child.stop"};
    if (error && log().enabled(spdlog::level::debug))
      log().debug("Error stopping child {}: {}", detail::label_of(*child),
                  detail::error_text(error));
  }
}

// -- tasks
// -----------------------------------------------------------------------------------------

void Service::add_task(std::string name, task_factory fn) {
  task_factories_.emplace_back(std::move(name), std::move(fn));
}

void Service::add_future(task<void> t, std::string name) {
  host().launch(std::move(t), std::move(name), true);
}

Service::clock::time_point Service::now() const {
  if (auto* self = binding_->self)
    return self->clock().now();
  return clock::now();
}

Service::clock::duration Service::uptime() const {
  (void)this_actor(*this);  // its state and start time are its actor's
  if (state() != ServiceState::running)
    return clock::duration::zero();
  return now() - started_at_;
}

IterTimer Service::itertimer(Seconds interval, TimerSpec spec) {
  TimerOptions opts;
  opts.name = spec.name.empty() ? label() : spec.name;
  opts.max_drift_correction = spec.max_drift_correction;
  opts.clock = [this] {
    return now();
  };
  opts.logger = logger_;
  return IterTimer{*this, Timer{interval, std::move(opts)}};
}

void Service::timer(Seconds interval, task_factory fn, TimerSpec spec) {
  if (interval.count() <= 0)
    throw std::invalid_argument(
        fmt::format("mode: {}: timer interval must be > 0, got {}s", label(), interval.count()));
  auto name = spec.name.empty() ? std::string{"timer"} : spec.name;
  add_task(name, [this, interval, fn = std::move(fn), spec, name]() -> task<void> {
    std::exception_ptr error;
    if (spec.exec_first && !should_stop())
      error = co_await detail::error_of(run_guarded(fn, spec.on_error, name));
    auto it = itertimer(interval, spec);
    // (Not `while (!error && co_await it.next())`: g++ 12 miscompiles a co_await on the
    // right of && in a loop condition, and the callback's error was lost.)
    while (!error) {
      if (!co_await it.next())
        break;
      error = co_await detail::error_of(run_guarded(fn, spec.on_error, name));
    }
    if (error)
      co_await detail::fail_with(std::move(error));
  });
}

task<void> Service::run_guarded(const task_factory& fn, TaskErrorPolicy policy,
                                const std::string& name) {
  auto error = co_await detail::error_of(fn());
  if (!error)
    co_return;
  if (policy == TaskErrorPolicy::crash || detail::exception_ptr_cast<CancelledError>(error))
    co_await detail::fail_with(std::move(error));
  else if (log().enabled(spdlog::level::err))
    log().error("{} raised (continuing): {}", name, describe_exception(error));
}

void Service::crontab(std::string_view format, task_factory fn, CrontabSpec spec) {
  auto schedule = CronSchedule::parse(format);
  if (!schedule.fires_ever())
    throw cron_error(std::string{format}, "", "it never fires");
  auto* tz = want_timezone(spec.timezone);
  auto name = spec.name.empty() ? "crontab " + schedule.expression() : spec.name;
  add_task(name,
           [this, schedule, tz, fn = std::move(fn), policy = spec.on_error, name]() -> task<void> {
             using namespace std::chrono;
             auto last = floor<seconds>(wall_clock());
             while (!should_stop()) {
               auto next = schedule.next_fire(last, tz);
               if (!next)
                 co_return;
               // Sleep until the fire time; a wake-up that comes early (the wall clock moved)
               // sleeps again for what is left.
               for (auto left = *next - wall_clock(); left > 0s && !should_stop();
                    left = *next - wall_clock())
                 co_await sleep(left);
               if (should_stop())
                 break;
               last = *next;
               if (auto error = co_await detail::error_of(run_guarded(fn, policy, name)))
                 co_await detail::fail_with(std::move(error));
             }
           });
}

void Service::on_task_done(std::uint64_t, bool is_future, std::exception_ptr error) {
  if (!error || !is_future)
    return;
  if (should_stop()) {
    if (log().enabled(spdlog::level::err))
      log().error("Task raised while stopping: {}", describe_exception(error));
    return;
  }
  crash(error);
}

task<void> Service::join_futures() {
  auto& h = host();
  if (h.pending_futures() > 0) {
    // mode gives the futures one turn of the loop to finish (sleepers were woken by
    // stop), then cancels the rest.
    struct poster : detail::wait_awaiter {
      using wait_awaiter::wait_awaiter;
      void on_registered(std::uint64_t id) override { host_->driver().post_wake(id); }
    };
    co_await poster{&h,    std::nullopt,   false,
                    false, "Service.stop", std::source_location::current()};
  }
  h.cancel_futures();
}

task<void> Service::exit_contexts() {
  // Both kinds unwind together, newest first, as mode's two exit stacks do in order.
  while (!contexts_.empty()) {
    auto ctx = std::move(contexts_.back());
    contexts_.pop_back();
    if (ctx.async_exit) {
      auto error = co_await detail::error_of(ctx.async_exit());
      if (error && log().enabled(spdlog::level::err))
        log().error("Error exiting async context: {}", describe_exception(error));
    }
  }
  contexts_.shrink_to_fit();
}

void Service::push_async_exit(std::function<task<void>()> exit) {
  contexts_.push_back(context{{}, std::move(exit)});
}

// -- waiting
// ---------------------------------------------------------------------------------------

detail::wait_awaiter Service::sleep(Seconds d, std::source_location where) {
  auto* self = running_actor();
  auto* h = self != nullptr ? &self->host() : nullptr;
  return detail::wait_awaiter{h, to_nanoseconds(d), true, should_stop(), "Service.sleep", where};
}

detail::event_awaiter Service::wait_event(Event& ev, std::optional<Seconds> timeout,
                                          std::source_location where) {
  return detail::event_awaiter{
      ev, &host(), to_timeout(timeout), true, ev.is_set() || should_stop(), where};
}

detail::event_awaiter Service::wait_until_stopped(std::source_location where) {
  return detail::event_awaiter{stopped_event_,          &host(), std::nullopt, false,
                               stopped_event_.is_set(), where};
}

namespace {

/// Shared between a waiting coroutine and the futures running what it waits for.
struct wait_group {
  detail::coro_host* host = nullptr;
  std::uint64_t waiter = 0;  ///< the waiting coroutine's wait id; 0 once it resumed
  std::size_t needed = 0;    ///< how many must finish
  std::vector<std::size_t> done;
  std::exception_ptr error;
  std::vector<std::uint64_t> futures;
};

task<void> run_member(std::shared_ptr<wait_group> group, std::size_t index, Waitable what) {
  std::exception_ptr error;
  try {
    if (auto* ev = what.event())
      co_await ev->wait();
    else
      co_await what.take_task();
  } catch (const CancelledError&) {
    auto* self = group->host->current();
    if (self == nullptr || self->cancelled)
      throw;  // the stop cancels this member: not an outcome of what it waited for
    error = std::current_exception();  // thrown by the awaited code itself
  } catch (...) {
    error = std::current_exception();
  }
  if (group->waiter == 0)
    co_return;
  group->done.push_back(index);
  if (error && !group->error)
    group->error = error;
  if (error || group->done.size() >= group->needed)
    group->host->driver().post_wake(std::exchange(group->waiter, 0));
}

struct group_awaiter : detail::wait_awaiter {
  group_awaiter(std::shared_ptr<wait_group> g, std::optional<std::chrono::nanoseconds> timeout,
                bool ready)
      : wait_awaiter(g->host, timeout, true, ready, "Service.wait",
                     std::source_location::current()),
        group(std::move(g)) {}
  void on_registered(std::uint64_t id) override { group->waiter = id; }
  std::shared_ptr<wait_group> group;
};

}  // namespace

namespace {

/// Starts every member of `group` as a future of the service, suspends until enough of
/// them finished (or stop, or the timeout), then cancels the members still running.
task<wake_reason> run_group(std::shared_ptr<wait_group> group, std::vector<Waitable> what,
                            std::optional<std::chrono::nanoseconds> timeout) {
  for (std::size_t i = 0; i < what.size(); ++i)
    group->futures.push_back(
        group->host->launch(run_member(group, i, std::move(what[i])), "Service.wait", true));
  auto why = co_await group_awaiter{group, timeout, group->needed == 0};
  group->waiter = 0;
  group->host->cancel_tasks(group->futures);
  if (group->error)
    std::rethrow_exception(group->error);
  co_return why;
}

}  // namespace

task<WaitResults> Service::wait_first(std::vector<Waitable> what, std::optional<Seconds> timeout) {
  WaitResults result;
  if (should_stop()) {
    result.stopped = true;
    co_return result;
  }
  auto group = std::make_shared<wait_group>();
  group->host = &host();
  group->needed = what.empty() ? 0 : 1;
  auto why = co_await run_group(group, std::move(what), to_timeout(timeout));
  if (why == wake_reason::stopped)
    result.stopped = true;
  else if (why == wake_reason::fired)
    result.done = group->done;
  co_return result;
}

task<WaitResult> Service::wait_many(std::vector<Waitable> what, std::optional<Seconds> timeout) {
  WaitResult result;
  if (should_stop()) {
    result.stopped = true;
    co_return result;
  }
  auto group = std::make_shared<wait_group>();
  group->host = &host();
  group->needed = what.size();
  auto why = co_await run_group(group, std::move(what), to_timeout(timeout));
  result.stopped = why == wake_reason::stopped;
  result.timed_out = why == wake_reason::timed_out;
  co_return result;
}

task<WaitResult> Service::wait(Waitable what, std::optional<Seconds> timeout) {
  std::vector<Waitable> one;
  one.push_back(std::move(what));
  co_return co_await wait_many(std::move(one), timeout);
}

task<bool> Service::wait_for_stopped(Waitable what, std::optional<Seconds> timeout) {
  auto result = co_await wait(std::move(what), timeout);
  co_return result.stopped;
}

}  // namespace mode

namespace mode {

// -- tracebacks
// -------------------------------------------------------------------------------------

std::map<std::string, std::string> Service::tracebacks() const {
  std::map<std::string, std::string> result;
  auto* self = binding_->self;
  if (self == nullptr)
    return result;
  std::map<std::string, int> seen;
  for (auto& trace : self->host().traces()) {
    auto key = trace.name;
    if (auto n = ++seen[trace.name]; n > 1)
      key += fmt::format("#{}", n);
    if (trace.suspended)
      result.emplace(key, fmt::format("{}:{} in {} (awaiting {})", trace.where.file_name(),
                                      trace.where.line(), trace.where.function_name(), trace.what));
    else
      result.emplace(key, trace.what);
  }
  return result;
}

std::string Service::human_tracebacks() const {
  std::string out;
  for (auto& [name, where] : tracebacks()) {
    auto header = fmt::format("{} {}", label(), name);
    out += header;
    out += '\n';
    out += std::string(header.size(), '=');
    out += '\n';
    out += where;
    out += "\n\n";
  }
  return out;
}

}  // namespace mode
