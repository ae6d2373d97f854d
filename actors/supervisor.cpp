// Supervisors on CAF: each held service runs on an actor that the supervisor spawned
// and monitors; a down message from a slot's current actor is a crash to handle.
#include "mode/supervisors.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <mutex>
#include <stdexcept>

#include <fmt/format.h>

#include "held_slot.hpp"
#include "mode/logging.hpp"
#include "service_actor.hpp"

namespace mode {

using detail::request_awaiter;
using detail::service_actor;
using detail::wake_reason;

namespace {

/// One held service: its spec and the actor it runs on now.
struct slot {
  std::shared_ptr<Service> service;
  /// Builds a new object for every restart; empty: the same object is reused.
  ServiceFactory factory;
  /// The current actor (strong: keeps a stopped service alive for its next start).
  /// Empty before the first start and once a down message said the actor is gone.
  caf::actor actor;
  /// The supervisor actor that monitors `actor`: a supervisor restarted on a fresh
  /// actor of its own must monitor again what it still holds.
  caf::actor_addr monitored_by;
  /// Why the last actor went down (the crash chain).
  caf::error reason;
  /// Times its actor went down with an error (for metrics).
  std::uint64_t crashes = 0;
  /// The supervisor started it and did not stop it since.
  bool wanted = false;
  /// Its actor went down while wanted: a restart is due.
  bool crashed = false;
  /// Given up on (Forfeit strategies) until the supervisor itself starts again.
  bool forfeited = false;
  /// The slot as handles see it (handle(index), handle(label)): kept in step with
  /// `service`, closed when the slot goes.
  std::shared_ptr<detail::held_slot> shared;
};

/// Puts `service` in slot `s`, for handles too.
void set_service(slot& s, std::shared_ptr<Service> service) {
  s.shared->replace(service);
  s.service = std::move(service);
}

service_actor& own_actor(const Service& svc) {
  auto* self = detail::running_actor();
  if (self == nullptr || &self->service() != &svc)
    throw std::logic_error("mode: " + svc.label() +
                           ": supervisor calls must run on the supervisor's own actor");
  return *self;
}

bool same_actor(const caf::actor_addr& addr, const caf::actor& hdl) noexcept {
  return hdl && addr.compare(caf::actor_cast<caf::abstract_actor*>(hdl)) == 0;
}

// g++ 12 rejects a braced list inside co_await ("array used as initializer").
std::vector<std::shared_ptr<Service>> only(std::shared_ptr<Service> svc) {
  std::vector<std::shared_ptr<Service>> one;
  one.push_back(std::move(svc));
  return one;
}

std::string join_labels(const std::vector<std::shared_ptr<Service>>& services) {
  std::string out;
  for (auto& s : services) {
    if (!out.empty())
      out += ", ";
    out += detail::label_of(*s);
  }
  return out;
}

/// Awaits one request to each of `dests` (all sent at once) until every one answered
/// or the timeout passed; then answered(i) says which did.
class group_request : public detail::wait_awaiter {
 public:
  group_request(service_actor& self, std::vector<caf::actor> dests, caf::message msg,
                std::chrono::nanoseconds timeout, const char* what,
                std::source_location where = std::source_location::current())
      : wait_awaiter(&self.host(), timeout, false, dests.empty(), what, where),
        self_(self),
        dests_(std::move(dests)),
        msg_(std::move(msg)),
        answered_(dests_.size(), false),
        remaining_(dests_.size()) {
    node_.context = this;
  }

  [[nodiscard]] bool answered(std::size_t i) const noexcept { return answered_[i]; }

 protected:
  void on_registered(std::uint64_t id) override {
    auto* host = host_;
    for (std::size_t i = 0; i < dests_.size(); ++i) {
      auto done = [host, id, i] {
        if (auto* node = host->find(id))
          static_cast<group_request*>(node->context)->on_answer(id, i);
      };
      // Any answer counts, an error too: a service that crashed while stopping has
      // stopped.
      self_.request(dests_[i], caf::infinite, msg_)
          .then([done]() { done(); }, [done](caf::error&) { done(); });
    }
  }

 private:
  void on_answer(std::uint64_t id, std::size_t i) {
    if (answered_[i])
      return;
    answered_[i] = true;
    if (--remaining_ == 0)
      host_->resume(id, wake_reason::fired);
  }

  service_actor& self_;
  std::vector<caf::actor> dests_;
  caf::message msg_;
  std::vector<bool> answered_;
  std::size_t remaining_;
};

/// The supervise() loop's idle wait. Whoever wakes it learns its wait id through
/// `waiter` (0 while it is not waiting); stop wakes it too.
class idle_awaiter : public detail::wait_awaiter {
 public:
  idle_awaiter(detail::coro_host& host, std::uint64_t& waiter)
      : wait_awaiter(&host, std::nullopt, true, false, "SupervisorStrategy.supervisor",
                     std::source_location::current()),
        waiter_(waiter) {}

 protected:
  void on_registered(std::uint64_t id) override { waiter_ = id; }
  void on_resumed() noexcept override { waiter_ = 0; }

 private:
  std::uint64_t& waiter_;
};

}  // namespace

struct SupervisorStrategy::impl {
  std::vector<slot> slots;
  RestartLimiter limiter = RestartLimiter::unlimited();
  /// The reason of the last crash of any held service: what MaxRestartsExceeded names
  /// (under OneForAll, the service whose restart hits the limit may not have crashed).
  caf::error last_crash;
  /// The wait id of the supervise() loop while it idles, else 0.
  std::uint64_t waiter = 0;
  /// A slot crashed, or wakeup() was called, since the loop last looked.
  bool pending = false;
  /// slots.size(), for label(), which any thread may call (handles, log lines).
  std::atomic<std::size_t> held{0};
  /// Each slot's `shared`, in slot order, for handle() from any thread.
  mutable std::mutex shared_mtx;
  std::vector<std::shared_ptr<detail::held_slot>> shared;

  void publish() {
    std::vector<std::shared_ptr<detail::held_slot>> now;
    now.reserve(slots.size());
    for (auto& s : slots)
      now.push_back(s.shared);
    std::lock_guard<std::mutex> guard{shared_mtx};
    shared.swap(now);
  }

  slot* find(const Service& svc) noexcept {
    for (auto& s : slots)
      if (s.service.get() == &svc)
        return &s;
    return nullptr;
  }
};

// -- construction ------------------------------------------------------------------------

SupervisorStrategy::SupervisorStrategy(SupervisorOptions options)
    : SupervisorStrategy(std::vector<std::shared_ptr<Service>>{}, std::move(options)) {}

SupervisorStrategy::SupervisorStrategy(std::vector<std::shared_ptr<Service>> services,
                                       SupervisorOptions options)
    : replacement(std::move(options.replacement)),
      stop_timeout(options.stop_timeout),
      raises_(std::move(options.raises)),
      state_(std::make_unique<impl>()) {
  if (options.max_restarts)
    state_->limiter = RestartLimiter{options.max_restarts->count(), options.over};
  if (!raises_)
    raises_ = mode::raises<MaxRestartsExceeded>();
  set_logger(get_logger("mode.supervisors"));
  add_task(&SupervisorStrategy::supervise, "SupervisorStrategy.supervisor");
  for (auto& s : services)
    add(std::move(s));
}

SupervisorStrategy::SupervisorStrategy(crashing_tag, std::vector<std::shared_ptr<Service>> services,
                                       SupervisorOptions options)
    : SupervisorStrategy(std::move(options)) {
  contain_ = false;
  for (auto& s : services)
    add(std::move(s));
}

SupervisorStrategy::~SupervisorStrategy() {
  for (auto& s : state_->slots)
    s.shared->close("is gone with its supervisor");
  // Normally on_stop stopped every held service. If this supervisor's actor was killed
  // instead, the services it started would run on with nobody to stop them: ask them
  // to exit (each crashes and runs its stop sequence).
  for (auto& s : state_->slots)
    if (s.actor && s.wanted)
      caf::anon_send_exit(s.actor, caf::exit_reason::user_shutdown);
}

// -- settings -------------------------------------------------------------------------------

double SupervisorStrategy::max_restarts() const noexcept {
  return state_->limiter.max_restarts();
}

double SupervisorStrategy::over() const noexcept {
  return state_->limiter.over().count();
}

// -- held services ---------------------------------------------------------------------------

void SupervisorStrategy::add(std::shared_ptr<Service> service) {
  if (!service)
    throw std::invalid_argument("mode: " + label() + ".add(nullptr)");
  if (state_->find(*service) != nullptr)
    throw std::invalid_argument("mode: " + label() + ".add(" + service->label() +
                                "): already held");
  if (service.get() == this)
    throw std::invalid_argument("mode: " + label() + ".add(): a supervisor cannot hold itself");
  if (contain_) {
    if (service->supervisor != nullptr && service->supervisor != this)
      throw std::invalid_argument("mode: " + label() + ".add(" + service->label() +
                                  "): it already has a supervisor");
    service->supervisor = this;
  }
  auto shared = std::make_shared<detail::held_slot>(service);
  state_->slots.push_back(
      slot{std::move(service), {}, {}, {}, {}, 0, false, false, false, std::move(shared)});
  state_->held.store(state_->slots.size(), std::memory_order_relaxed);
  state_->publish();
  if (started() && !should_stop())
    wakeup();
}

void SupervisorStrategy::add(ServiceFactory factory) {
  if (!factory)
    throw std::invalid_argument("mode: " + label() + ".add(): empty factory");
  auto service = factory();
  if (!service)
    throw std::invalid_argument("mode: " + label() + ".add(): the factory returned nullptr");
  add(std::move(service));
  state_->slots.back().factory = std::move(factory);
}

namespace {

// Stops a service the supervisor lets go of; nobody else could: only the supervisor
// knows its actor.
void release_actor(const Service& sup, slot& s) {
  if (!s.actor)
    return;
  if (auto* self = detail::running_actor(); self != nullptr && &self->service() == &sup)
    self->demonitor(s.actor);
  if (s.wanted)
    caf::anon_send(s.actor, detail::stop_atom::value);
  s.actor = nullptr;
}

}  // namespace

void SupervisorStrategy::discard(const std::shared_ptr<Service>& service) {
  if (!service)
    return;
  auto& slots = state_->slots;
  auto i =
      std::find_if(slots.begin(), slots.end(), [&](const slot& s) { return s.service == service; });
  if (i == slots.end())
    return;
  release_actor(*this, *i);
  if (service->supervisor == this)
    service->supervisor = nullptr;
  i->shared->close("was discarded from its supervisor");
  slots.erase(i);
  state_->held.store(slots.size(), std::memory_order_relaxed);
  state_->publish();
}

void SupervisorStrategy::insert(std::size_t index, std::shared_ptr<Service> service) {
  auto& slots = state_->slots;
  if (index >= slots.size())
    throw std::out_of_range(fmt::format("mode: {}.insert({}): no such index (holding {})", label(),
                                        index, slots.size()));
  if (!service)
    throw std::invalid_argument("mode: " + label() + ".insert(nullptr)");
  if (auto* held = state_->find(*service); held != nullptr && held != &slots[index])
    throw std::invalid_argument(fmt::format("mode: {}.insert({}, {}): already held at {}", label(),
                                            index, service->label(), *index_of(*service)));
  if (contain_ && service->supervisor != nullptr && service->supervisor != this)
    throw std::invalid_argument(fmt::format("mode: {}.insert({}, {}): it already has a supervisor",
                                            label(), index, service->label()));
  auto& s = slots[index];
  release_actor(*this, s);
  if (s.service->supervisor == this)
    s.service->supervisor = nullptr;
  if (contain_)
    service->supervisor = this;
  // The slot stays (a handle on it follows it to the new service).
  auto shared = std::move(s.shared);
  shared->replace(service);
  s = slot{std::move(service), {}, {}, {}, {}, 0, false, false, false, std::move(shared)};
  if (started() && !should_stop())
    wakeup();
}

ServiceHandle SupervisorStrategy::handle(std::size_t index) const {
  std::shared_ptr<detail::held_slot> shared;
  std::size_t held = 0;
  {
    std::lock_guard<std::mutex> guard{state_->shared_mtx};
    held = state_->shared.size();
    if (index < held)
      shared = state_->shared[index];
  }
  if (!shared)
    throw std::out_of_range(
        fmt::format("mode: {}.handle({}): no such index (holding {})", label(), index, held));
  return detail::handle_access::attach(shared->current(label()), shared);
}

ServiceHandle SupervisorStrategy::handle(std::string_view label_of_service) const {
  std::vector<std::shared_ptr<detail::held_slot>> all;
  {
    std::lock_guard<std::mutex> guard{state_->shared_mtx};
    all = state_->shared;
  }
  for (auto& shared : all)
    if (auto svc = shared->current(label()); svc && detail::label_of(*svc) == label_of_service)
      return detail::handle_access::attach(std::move(svc), shared);
  throw std::out_of_range(fmt::format("mode: {}.handle(\"{}\"): holds no service of that label",
                                      label(), label_of_service));
}

std::vector<std::shared_ptr<Service>> SupervisorStrategy::services() const {
  std::vector<std::shared_ptr<Service>> result;
  result.reserve(state_->slots.size());
  for (auto& s : state_->slots)
    result.push_back(s.service);
  return result;
}

std::optional<std::size_t> SupervisorStrategy::index_of(const Service& service) const noexcept {
  auto& slots = state_->slots;
  for (std::size_t i = 0; i < slots.size(); ++i)
    if (slots[i].service.get() == &service)
      return i;
  return std::nullopt;
}

bool SupervisorStrategy::service_operational(const Service& service) const {
  return !service.crashed();
}

void SupervisorStrategy::forfeit(const std::vector<std::shared_ptr<Service>>& services) {
  for (auto& svc : services)
    if (auto* s = state_->find(*svc)) {
      s->forfeited = true;
      s->crashed = false;
    }
}

// -- labels ----------------------------------------------------------------------------------

std::string SupervisorStrategy::label() const {
  return fmt::format("{}: ({}@{:#x})", Service::label(),
                     state_->held.load(std::memory_order_relaxed),
                     reinterpret_cast<std::uintptr_t>(this));
}

std::string SupervisorStrategy::shortlabel() const {
  return Service::label();
}

// -- waking up -------------------------------------------------------------------------------

void SupervisorStrategy::wakeup() {
  auto* self = detail::running_actor();
  if (self != nullptr && &self->service() == this) {
    // Maybe inside a coroutine of this actor: let the loop run on a later turn.
    wake_loop(false);
    return;
  }
  // From elsewhere: the one message every service actor hands to on_down_message is a
  // down message; one that names this supervisor's own actor means "wake up".
  if (auto hdl = binding()->get())
    caf::anon_send(hdl, caf::down_msg{hdl.address(), caf::error{}});
}

void SupervisorStrategy::wake_loop(bool now) {
  auto& st = *state_;
  st.pending = true;
  if (st.waiter == 0)
    return;  // busy: it looks at `pending` before it idles again
  auto id = std::exchange(st.waiter, 0);
  auto& host = own_actor(*this).host();
  if (now)
    host.resume(id, wake_reason::fired);  // from a message handler: no coroutine is running
  else
    host.driver().post_wake(id);
}

void SupervisorStrategy::on_actor_exit(const caf::error& failure) noexcept {
  // Failed: after a crash its stop sequence stopped what it holds (and let go of those
  // actors), so what is left here was cut short by a kill, mid-stop or running. Each is
  // told, as a link would (a kill kills it too): nothing runs on with nobody to stop
  // it, and the actor system can end.
  auto* self = failure ? detail::running_actor() : nullptr;  // on_exit runs on it
  for (auto& s : state_->slots) {
    if (self != nullptr && s.actor)
      self->send_exit(s.actor, failure);
    s.actor = nullptr;
  }
}

void SupervisorStrategy::on_down_message(const caf::down_msg& msg) {
  auto& self = own_actor(*this);
  auto& st = *state_;
  if (msg.source == self.address()) {
    wake_loop(true);
    return;
  }
  auto i = std::find_if(st.slots.begin(), st.slots.end(),
                        [&](const slot& s) { return same_actor(msg.source, s.actor); });
  if (i == st.slots.end()) {
    // An actor this supervisor let go of, or a late message about an instance that was
    // already replaced (CAF 0.17.6 may deliver one after demonitor): never act on it.
    if (logger()->should_log(spdlog::level::debug))
      log().debug("Ignoring a down message about a previous instance: {}",
                  detail::error_text(msg.reason));
    return;
  }
  auto& s = *i;
  s.actor = nullptr;  // the actor is gone: the service object is ours to inspect now
  s.reason = msg.reason;
  if (should_stop() || !s.wanted)
    return;  // stopping, or it was stopped on purpose
  bool failed = (msg.reason && !detail::is_exit_reason(msg.reason, caf::exit_reason::normal)) ||
                !service_operational(*s.service);
  if (!failed) {
    s.wanted = false;
    return;
  }
  if (!contain_) {
    crash(detail::to_exception(msg.reason));
    return;
  }
  s.crashed = true;
  ++s.crashes;
  st.last_crash = msg.reason;
  // React now, inside this handler: the restart costs no extra message.
  wake_loop(true);
}

detail::supervision_info SupervisorStrategy::supervision() const {
  (void)own_actor(*this);  // the slots are the actor's: throws logic_error elsewhere
  detail::supervision_info info;
  const auto& st = *state_;
  for (const auto& s : st.slots) {
    detail::held_service_info held;
    held.service = s.service;
    held.actor = s.actor;
    held.crashes = s.crashes;
    if (s.crashes > 0 && s.reason)
      held.last_crash = detail::error_text(s.reason);
    info.held.push_back(std::move(held));
  }
  info.max_restarts = st.limiter.max_restarts();
  info.window_s = st.limiter.over().count();
  info.restarts_in_window = st.limiter.restarts_in_window(now());
  return info;
}

// -- the loop --------------------------------------------------------------------------------

task<void> SupervisorStrategy::supervise() {
  // mode's _supervisor task, woken by down messages and wakeup() instead of polling.
  auto& st = *state_;
  while (!should_stop()) {
    if (!st.pending) {
      co_await idle_awaiter{own_actor(*this).host(), st.waiter};  // or until stop
      continue;
    }
    st.pending = false;
    std::vector<std::shared_ptr<Service>> to_start;
    std::vector<std::shared_ptr<Service>> to_restart;
    for (auto& s : st.slots) {
      if (s.forfeited)
        continue;
      if (s.crashed)
        to_restart.push_back(s.service);
      else if (!s.wanted)
        to_start.push_back(s.service);
    }
    if (!to_start.empty())
      co_await start_services(std::move(to_start));
    if (!to_restart.empty() && !should_stop())
      co_await restart_services(std::move(to_restart));
  }
}

// -- lifecycle hooks -------------------------------------------------------------------------

task<void> SupervisorStrategy::on_start() {
  // Erlang: a (re)started supervisor starts every child afresh, with a clean history.
  auto& st = *state_;
  st.limiter.reset();
  st.pending = false;
  for (auto& s : st.slots) {
    s.forfeited = false;
    s.crashed = false;
  }
  co_await start_services(services());
}

task<void> SupervisorStrategy::on_stop() {
  // Reverse order, one at a time, each within stop_timeout.
  auto& slots = state_->slots;
  for (std::size_t i = slots.size(); i-- > 0;) {
    if (i >= slots.size() || !slots[i].actor)
      continue;
    co_await stop_services(only(slots[i].service));
  }
}

task<void> SupervisorStrategy::run_until_complete() {
  auto* caller = detail::running_actor();
  if (caller != nullptr && &caller->service() == this) {
    co_await start();
    co_await stop();
    co_return;
  }
  // From another service's coroutine: through this supervisor's actor, spawned on the
  // caller's system (below the caller) if it has none yet.
  if (caller == nullptr)
    throw std::logic_error("mode: " + label() +
                           ".run_until_complete() must be awaited from a service's coroutine");
  auto hdl = binding()->get();
  if (!hdl)
    hdl = service_actor::spawn(caller->home_system(), shared_from_this(),
                               caller->service().depth() + 1, caller->service().weak_from_this());
  co_await request_awaiter{caller, hdl, detail::maybe_start_message(),
                           "Supervisor.run_until_complete", std::source_location::current()};
  co_await request_awaiter{caller, hdl, detail::stop_message(), "Supervisor.run_until_complete",
                           std::source_location::current()};
}

// -- starting and restarting -------------------------------------------------------------------

namespace {

/// A held service that failed to (re)start has crashed: its down message brings the
/// restart, so the failure is only logged.
void log_launch_failure(const SupervisorStrategy& sup, const caf::error& error, const char* verb,
                        const Service& service) {
  if (error && sup.logger()->should_log(spdlog::level::debug))
    sup.log().debug("{} failed to {}: {}", detail::label_of(service), verb,
                    detail::error_text(error));
}

/// Puts slot `s` on a live actor and returns the message that (re)starts it there.
/// `restart`: a live service is restarted in place (stop, reset, on_restart, start)
/// rather than only started if it is not running.
const caf::message& relaunch(SupervisorStrategy& sup, slot& s, bool restart) {
  auto& self = own_actor(sup);
  s.crashed = false;
  s.wanted = true;
  if (s.actor) {
    if (s.monitored_by != self.address()) {
      self.monitor(s.actor);
      s.monitored_by = self.address();
    }
    return restart ? detail::restart_message() : detail::maybe_start_message();
  }
  // No actor: never spawned, or its actor is gone, which makes the object ours to
  // inspect (its actor ran on_exit before the down message was sent).
  auto& svc = *s.service;
  const caf::message* msg = &detail::maybe_start_message();
  bool used = svc.started() || svc.crashed();
  if (used && s.factory) {
    auto fresh = s.factory();
    if (!fresh)
      throw std::logic_error("mode: " + sup.label() + ": the factory for " + svc.label() +
                             " returned nullptr");
    fresh->set_restart_count(svc.restart_count() + 1);
    if (s.service->supervisor == &sup) {
      s.service->supervisor = nullptr;
      fresh->supervisor = &sup;
    }
    set_service(s, std::move(fresh));
  } else if (used && !svc.started()) {
    // Crashed before it ever started: Service::restart would only finish that crash.
    svc.service_reset();
  } else if (used) {
    msg = &detail::restart_message();  // Service::restart: reset (restart_count + 1), on_restart,
                                       // start
  }
  s.actor =
      service_actor::spawn(self.home_system(), s.service, sup.depth() + 1, sup.weak_from_this());
  self.monitor(s.actor);
  s.monitored_by = self.address();
  return *msg;
}

}  // namespace

task<void> SupervisorStrategy::start_services(std::vector<std::shared_ptr<Service>> services) {
  for (auto& svc : services) {
    if (should_stop())
      break;
    co_await start_service(std::move(svc));
  }
}

task<void> SupervisorStrategy::start_service(std::shared_ptr<Service> service) {
  auto* s = state_->find(*service);
  if (s == nullptr || should_stop())
    co_return;
  s->forfeited = false;
  const auto& msg = relaunch(*this, *s, false);
  auto error = co_await detail::try_request_awaiter{&own_actor(*this), s->actor, msg,
                                                    "Supervisor.start_service"};
  log_launch_failure(*this, error, "start", *service);
}

task<void> SupervisorStrategy::restart_services(std::vector<std::shared_ptr<Service>> services) {
  // One after another, as mode and Erlang/OTP do. (Restarting them all at once measured
  // no faster, and cost a future per restart.)
  for (auto& svc : services) {
    if (should_stop())
      break;
    co_await restart_service(std::move(svc));
  }
}

task<void> SupervisorStrategy::restart_service(std::shared_ptr<Service> service) {
  auto& st = *state_;
  auto* s = st.find(*service);
  if (s == nullptr || should_stop())
    co_return;
  auto reason = [&] {
    return s->reason ? detail::error_text(s->reason) : std::string{"None"};
  };
  if (logger()->should_log(spdlog::level::info))
    log().info("Restarting dead {}! Last crash reason: {}", detail::label_of(*service), reason());
  if (!st.limiter.allow(now())) {
    fail_max_restarts(st.last_crash ? detail::error_text(st.last_crash) : reason());
    co_return;
  }
  if (replacement) {
    if (s->actor) {
      // Replacing a live service: it stops first, so its restart_count is final.
      co_await stop_services(only(service));
      s = st.find(*service);
      if (s == nullptr || should_stop())
        co_return;
      if (s->actor)
        own_actor(*this).demonitor(s->actor);
      s->actor = nullptr;  // dropped: the stopped actor goes away
    }
    auto index = *index_of(*service);
    auto fresh = co_await replacement(service, index);
    // The supervisor may have stopped, or the slot changed, while the replacement ran.
    s = st.find(*service);
    if (s == nullptr || should_stop())
      co_return;
    if (!fresh)
      throw std::logic_error("mode: " + label() + ": replacement(" + service->label() + ", " +
                             std::to_string(index) + ") returned nullptr");
    fresh->set_restart_count(service->restart_count() + 1);
    if (contain_)
      fresh->supervisor = this;
    if (service->supervisor == this)
      service->supervisor = nullptr;
    set_service(*s, std::move(fresh));  // the slot's factory, if any, stays its spec
  }
  const auto& msg = relaunch(*this, *s, true);
  auto error = co_await detail::try_request_awaiter{&own_actor(*this), s->actor, msg,
                                                    "Supervisor.restart_service"};
  log_launch_failure(*this, error, "restart", *service);
}

void SupervisorStrategy::fail_max_restarts(const std::string& last_crash) {
  auto message =
      fmt::format("more than {} restarts within {}; last crash: {}", state_->limiter.max_restarts(),
                  to_string(Seconds{over()}), last_crash);
  log().warn("Max restarts exceeded: {}", message);
  crash(raises_(message));
}

// -- stopping ----------------------------------------------------------------------------------

task<void> SupervisorStrategy::stop_services(std::vector<std::shared_ptr<Service>> services) {
  return stop_slots(std::move(services), true);
}

task<void> SupervisorStrategy::stop_for_restart(std::vector<std::shared_ptr<Service>> services) {
  return stop_slots(std::move(services), false);
}

task<void> SupervisorStrategy::stop_slots(std::vector<std::shared_ptr<Service>> services,
                                          bool for_good) {
  auto& self = own_actor(*this);
  std::vector<caf::actor> dests;
  std::vector<std::shared_ptr<Service>> stopping;
  for (auto& svc : services) {
    auto* s = state_->find(*svc);
    if (s == nullptr)
      continue;
    s->wanted = false;
    if (!s->actor)
      continue;  // gone already: stopped
    dests.push_back(s->actor);
    stopping.push_back(svc);
  }
  if (dests.empty())
    co_return;
  const auto& msg = for_good ? detail::stop_message() : detail::stop_for_restart_message();
  group_request awaiter{self, dests, msg, to_nanoseconds(stop_timeout), "Supervisor.stop_services"};
  co_await awaiter;
  for (std::size_t i = 0; i < dests.size(); ++i) {
    if (awaiter.answered(i)) {
      if (!for_good)
        continue;
      // A service stopped for good ends its actor: the next start spawns a new one.
      if (auto* s = state_->find(*stopping[i]); s != nullptr && s->actor == dests[i]) {
        self.demonitor(s->actor);
        s->actor = nullptr;
      }
      continue;
    }
    log().error("Timed out stopping {} after {}: killing it", detail::label_of(*stopping[i]),
                to_string(stop_timeout));
    self.send_exit(dests[i], caf::exit_reason::kill);
  }
}

// -- strategies ----------------------------------------------------------------------------------

task<void> OneForAllSupervisor::restart_services(std::vector<std::shared_ptr<Service>> services) {
  if (services.empty())
    co_return;
  auto all = this->services();
  co_await stop_for_restart(all);
  for (auto& svc : all) {
    if (should_stop())
      break;
    co_await restart_service(svc);
  }
}

task<void> ForfeitOneForOneSupervisor::restart_services(
    std::vector<std::shared_ptr<Service>> services) {
  if (services.empty())
    co_return;
  log().log(spdlog::level::critical, "Giving up on crashed services: {}", join_labels(services));
  forfeit(services);
  co_await stop_services(std::move(services));
}

task<void> ForfeitOneForAllSupervisor::restart_services(
    std::vector<std::shared_ptr<Service>> services) {
  if (services.empty())
    co_return;
  log().log(spdlog::level::critical, "Giving up on all services in group because {} crashed",
            join_labels(services));
  auto all = this->services();
  forfeit(all);
  co_await stop_services(std::move(all));
}

}  // namespace mode
