// Service's lifecycle: the parts that run on its actor and talk to other actors.
#include "mode/service.hpp"

#include <stdexcept>

#include "mode/cron.hpp"
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
  auto& self = this_actor(*this);
  if (started_)
    throw std::logic_error(label() + " already started");
  started_ = true;
  self.keep_alive(true);
  detail::signal_service_running(self, true);
  if (!first_start_done_) {
    first_start_done_ = true;
    for (auto& child : on_init_dependencies())
      add_child(std::move(child));
    co_await on_first_start();
  }
  if (should_stop())
    co_return;
  log().log(mundane_level, "Starting...");
  std::exception_ptr error;
  try {
    co_await on_start();
    if (!should_stop()) {
      for (auto& [name, factory] : task_factories_)
        add_future(factory(), name);
      co_await start_children();
    }
    if (!should_stop())
      co_await on_started();
  } catch (...) {
    error = std::current_exception();
  }
  if (error) {
    crash(error);
    std::rethrow_exception(error);
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
  log().log(mundane_level, "Stopping...");
  host().wake_stopped();
  auto guarded = [this](const char* step, std::exception_ptr err) {
    if (!err)
      return;
    log().error("Error in {}: {}", step, describe_exception(err));
    if (!crashed_)
      mark_crashed(err);
  };
  std::exception_ptr error;
  try {
    co_await on_stop();
  } catch (...) {
    error = std::current_exception();
  }
  guarded("on_stop", std::exchange(error, nullptr));
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
  co_await join_futures();
  co_await exit_contexts();
  try {
    co_await on_shutdown();
  } catch (...) {
    error = std::current_exception();
  }
  guarded("on_shutdown", std::exchange(error, nullptr));
  shutdown_ = true;
  stopping_ = false;
  log().log(mundane_level, "-Stopped!");
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
  co_await stop();
  service_reset();
  co_await on_restart();
  co_await start();
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
  self.host().launch(crash_sequence(), "Service.crash", false);
}

void Service::mark_crashed(std::exception_ptr reason, std::string text) {
  crashed_ = true;
  crash_reason_ = std::move(reason);
  crash_text_ = std::move(text);
  stopped_event_.set();
}

const std::string& Service::crash_text() {
  // describe_exception rethrows the exception to read it: once per crash is enough.
  if (crash_text_.empty())
    crash_text_ = describe_exception(crash_reason_);
  return crash_text_;
}

task<void> Service::crash_sequence() {
  auto& self = this_actor(*this);
  if (started_ && !stopped_)
    co_await stop();
  else if (!stopping_)
    self.exit_crashed();
  // A stop already in progress finishes the crash when it ends.
}

void Service::set_shutdown() {
  shutdown_event_.set();
}

// -- children ------------------------------------------------------------------------------------

void Service::add_child(std::shared_ptr<Service> child) {
  if (!child)
    throw std::invalid_argument("mode: add_dependency(nullptr) on " + label());
  children_.push_back(std::move(child));
}

namespace {

caf::actor child_actor(service_actor& self, Service& parent,
                       const std::shared_ptr<Service>& child) {
  auto& slots = parent.binding()->children;
  if (auto i = slots.find(child.get()); i != slots.end()) {
    if (auto alive = child->binding()->get())
      return i->second;
    slots.erase(i);
  }
  auto hdl =
      service_actor::spawn(self.home_system(), child, parent.depth() + 1, parent.weak_from_this());
  self.link_to(hdl);
  slots.emplace(child.get(), hdl);
  return hdl;
}

}  // namespace

task<void> Service::start_children() {
  auto& self = this_actor(*this);
  for (std::size_t i = 0; i < children_.size() && !should_stop(); ++i) {
    auto child = children_[i];
    auto hdl = child_actor(self, *this, child);
    co_await detail::request_awaiter{&self, hdl, caf::make_message(detail::start_atom::value, true),
                                     "child.maybe_start", std::source_location::current()};
  }
}

task<void> Service::stop_children(bool crashed) {
  auto& self = this_actor(*this);
  auto& slots = binding_->children;
  for (auto i = children_.rbegin(); i != children_.rend(); ++i) {
    auto slot = slots.find(i->get());
    if (slot == slots.end())
      continue;
    auto hdl = slot->second;
    std::exception_ptr error;
    try {
      if (crashed) {
        // mode marks the whole tree crashed: the child crashes too, then we wait for its
        // stop sequence to finish.
        auto reason = crash_reason_ ? crash_text() : std::string{"crashed"};
        self.send(hdl, detail::crash_atom::value, label() + " <- " + reason);
        co_await detail::request_awaiter{&self, hdl, caf::make_message(detail::stopped_atom::value),
                                         "child.wait_stopped", std::source_location::current()};
      } else {
        co_await detail::request_awaiter{&self, hdl, caf::make_message(detail::stop_atom::value),
                                         "child.stop", std::source_location::current()};
      }
    } catch (...) {
      error = std::current_exception();
    }
    // A child that is already gone counts as stopped; other errors are logged and the
    // remaining children still stop.
    if (error && !crashed)
      log().debug("Error stopping child {}: {}", (*i)->label(), describe_exception(error));
  }
}

task<void> Service::add_runtime_dependency(std::shared_ptr<Service> child) {
  add_child(child);
  if (started_ && !should_stop()) {
    auto& self = this_actor(*this);
    auto hdl = child_actor(self, *this, child);
    co_await detail::request_awaiter{&self, hdl, caf::make_message(detail::start_atom::value, true),
                                     "child.maybe_start", std::source_location::current()};
  }
}

task<void> Service::remove_dependency(std::shared_ptr<Service> child) {
  auto& self = this_actor(*this);
  auto& slots = binding_->children;
  if (auto slot = slots.find(child.get()); slot != slots.end()) {
    auto hdl = slot->second;
    slots.erase(slot);
    std::exception_ptr error;
    try {
      co_await detail::request_awaiter{&self, hdl, caf::make_message(detail::stop_atom::value),
                                       "child.stop", std::source_location::current()};
    } catch (...) {
      error = std::current_exception();
    }
    if (error)
      log().debug("Error stopping child {}: {}", child->label(), describe_exception(error));
    self.unlink_from(hdl);
  }
  std::erase(children_, child);
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

task<bool> IterTimer::next() {
  auto d = first_ ? timer_.first_sleep() : timer_.next_sleep();
  first_ = false;
  if (svc_.should_stop())
    co_return false;
  co_await svc_.sleep(d);
  if (svc_.should_stop())
    co_return false;
  timer_.on_wakeup();
  co_return true;
}

void Service::timer(Seconds interval, task_factory fn, TimerSpec spec) {
  if (interval.count() <= 0)
    throw std::invalid_argument(
        fmt::format("mode: {}: timer interval must be > 0, got {}s", label(), interval.count()));
  auto name = spec.name.empty() ? std::string{"timer"} : spec.name;
  add_task(name, [this, interval, fn = std::move(fn), spec, name]() -> task<void> {
    if (spec.exec_first && !should_stop())
      co_await run_guarded(fn, spec.on_error, name);
    auto it = itertimer(interval, spec);
    while (co_await it.next())
      co_await run_guarded(fn, spec.on_error, name);
  });
}

task<void> Service::run_guarded(const task_factory& fn, TaskErrorPolicy policy,
                                const std::string& name) {
  if (policy == TaskErrorPolicy::crash) {
    co_await fn();
    co_return;
  }
  std::exception_ptr error;
  try {
    co_await fn();
  } catch (const CancelledError&) {
    throw;
  } catch (...) {
    error = std::current_exception();
  }
  if (error)
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
               co_await run_guarded(fn, policy, name);
             }
           });
}

void Service::on_task_done(std::uint64_t, bool is_future, std::exception_ptr error) {
  if (!error || !is_future)
    return;
  if (should_stop()) {
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
  std::size_t sync_index = contexts_.size();
  std::size_t async_index = async_exits_.size();
  for (auto kind = context_order_.rbegin(); kind != context_order_.rend(); ++kind) {
    if (*kind == 0) {
      contexts_[--sync_index].reset();
    } else {
      std::exception_ptr error;
      try {
        co_await async_exits_[--async_index]();
      } catch (...) {
        error = std::current_exception();
      }
      if (error)
        log().error("Error exiting async context: {}", describe_exception(error));
    }
  }
  contexts_.clear();
  async_exits_.clear();
  context_order_.clear();
}

void Service::push_async_exit(std::function<task<void>()> exit) {
  async_exits_.push_back(std::move(exit));
  context_order_.push_back(1);
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
    throw;
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

namespace mode {

task<void> AwaitableService::on_start() {
  co_await wait(fn_(*this));
}

}  // namespace mode
