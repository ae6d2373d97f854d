// The CAF side of mode::Signal: see signal_runtime.hpp.
#include "signal_runtime.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <unordered_map>

namespace mode::detail {

namespace {

// -- running batches ----------------------------------------------------------------------

// A service hears signals while it runs, as its tasks run only then.
bool receives(const Service& svc) {
  return svc.started() && !svc.should_stop();
}

// Answers the request (if any) when the frame goes: after the batch ran, or when the coroutine
// is cancelled or destroyed (stop, actor exit), so a sender never waits for a service that went.
struct answer_on_exit {
  caf::response_promise& rp;
  ~answer_on_exit() { rp.deliver(caf::unit); }
};

task<void> run_and_answer(signal_plan_ptr plan, std::size_t i, caf::response_promise rp) {
  answer_on_exit guard{rp};
  co_await plan->run_batch(i);
}

// Runs batch `i` on `self`: its home, or the sender's actor for the batch without a service.
void run_on(service_actor& self, signal_plan& plan, std::size_t i, caf::response_promise rp) {
  const auto& b = plan.batches[i];
  if (b.home && (b.home.get() != &self.service() || !receives(self.service()))) {
    rp.deliver(caf::unit);
    return;
  }
  if (!b.has_async) {
    plan.run_batch_sync(i);
    rp.deliver(caf::unit);
    return;
  }
  // The coroutine keeps the plan alive (it is owned by a shared_ptr: every message holds one).
  auto keep = plan.shared_from_this();
  self.host().launch(run_and_answer(std::move(keep), i, std::move(rp)), "Signal " + plan.label(),
                     true);
}

actor_job_ptr as_job(const signal_plan_ptr& plan) {
  return plan;
}

// The batch without a service, sent without waiting: on the sender's actor after its current
// handler, or inline from outside any service.
void run_homeless(service_actor* self, const signal_plan_ptr& plan, std::size_t i) {
  if (self != nullptr) {
    caf::anon_send(caf::actor_cast<caf::actor>(self), run_atom::value, as_job(plan),
                   static_cast<std::uint32_t>(i));
    return;
  }
  if (!plan->batches[i].has_async) {
    plan->run_batch_sync(i);
    return;
  }
  // No actor to resume it: a coroutine receiver runs until it ends or first suspends. Service
  // waits outside a service throw, which run_batch() logs, so it ends in practice.
  auto root = plan->run_batch(i).release();
  root.resume();
  if (!root.done())
    plan->report_dropped(std::make_exception_ptr(std::logic_error{
        "a coroutine receiver without a service suspended outside any service's actor "
        "(nothing can resume it): dropped"}));
  root.destroy();
}

// -- awaited sends ------------------------------------------------------------------------

struct ack_state {
  coro_host* host = nullptr;
  std::size_t pending = 0;
  std::uint64_t waiter = 0;

  void done() {
    if (--pending == 0 && waiter != 0)
      host->resume(std::exchange(waiter, 0), wake_reason::fired);
  }
};

class ack_awaiter : public wait_awaiter {
 public:
  explicit ack_awaiter(std::shared_ptr<ack_state> state)
      : wait_awaiter(state->host, std::nullopt, false, state->pending == 0, "Signal.send",
                     std::source_location::current()),
        state_(std::move(state)) {}

 protected:
  void on_registered(std::uint64_t id) override { state_->waiter = id; }
  void on_resumed() noexcept override { state_->waiter = 0; }

 private:
  std::shared_ptr<ack_state> state_;
};

// -- group pools ----------------------------------------------------------------------------

std::mutex pools_mtx;
std::unordered_map<caf::actor_system*, std::shared_ptr<group_pool>> pools;

std::shared_ptr<group_pool> pool_of(caf::actor_system& sys) {
  std::lock_guard<std::mutex> guard{pools_mtx};
  auto& pool = pools[&sys];
  if (!pool)
    pool = std::make_shared<group_pool>();
  return pool;
}

// The service's signal_home (made on first use) and its actor system (null before spawning).
std::pair<std::shared_ptr<signal_home>, caf::actor_system*> home_of(const Service& svc) {
  auto& b = *svc.binding();
  std::lock_guard<std::mutex> guard{b.mtx};
  if (!b.signals)
    b.signals = std::make_shared<signal_home>(b.actor, b.signals_running);
  return {b.signals, b.system};
}

}  // namespace

// -- signal_home ------------------------------------------------------------------------------

void signal_home::want(const caf::group& g, bool on) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = std::find(groups_.begin(), groups_.end(), g);
  if (on) {
    if (i != groups_.end())
      return;
    groups_.push_back(g);
    if (running_)
      subscribe_locked(g);
    return;
  }
  if (i == groups_.end())
    return;
  groups_.erase(i);
  if (running_)
    g->unsubscribe(caf::actor_cast<caf::actor_control_block*>(actor_));
}

void signal_home::set_running(service_actor& self, bool on) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (on) {
    running_ = true;
    actor_ = self.address();
    for (const auto& g : groups_)
      subscribe_locked(g);
    return;
  }
  if (!running_)
    return;
  for (const auto& g : groups_)
    g->unsubscribe(caf::actor_cast<caf::actor_control_block*>(actor_));
  running_ = false;
}

std::size_t signal_home::wanted() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return groups_.size();
}

void signal_home::subscribe_locked(const caf::group& g) {
  if (auto strong = caf::actor_cast<caf::strong_actor_ptr>(actor_))
    g->subscribe(std::move(strong));
}

void signal_service_running(service_actor& self, bool running) {
  auto& b = *self.service().binding();
  std::shared_ptr<signal_home> home;
  {
    // Without a home no group wants the service yet: the flag is all there is to set, and a
    // home made later (home_of, under the same lock) starts from it.
    std::lock_guard<std::mutex> guard{b.mtx};
    b.signals_running = running;
    if (!b.signals)
      return;
    home = b.signals;
  }
  home->set_running(self, running);
}

// -- group_pool --------------------------------------------------------------------------------

std::string group_pool::acquire() {
  std::lock_guard<std::mutex> guard{mtx_};
  if (!free_.empty()) {
    auto name = std::move(free_.back());
    free_.pop_back();
    return name;
  }
  return fmt::format("mode.signal.{}", created_++);
}

void group_pool::release(std::string name) {
  std::lock_guard<std::mutex> guard{mtx_};
  free_.push_back(std::move(name));
}

signal_group_stats group_pool::stats() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return {created_, created_ - free_.size()};
}

group_slot::~group_slot() {
  for (auto& m : members)
    m->want(group, false);
  if (pool)
    pool->release(std::move(name));
}

void group_slot_assign(group_slot_ptr& slot, const std::vector<Service*>& homes) {
  std::vector<std::shared_ptr<signal_home>> wanted;
  caf::actor_system* sys = slot ? &slot->group->system() : nullptr;
  for (auto* svc : homes) {
    auto [home, home_sys] = home_of(*svc);
    // A service never spawned has no actor to subscribe (and does not run).
    if (home_sys == nullptr || (sys != nullptr && home_sys != sys))
      continue;
    sys = home_sys;
    wanted.push_back(std::move(home));
  }
  if (wanted.empty()) {
    slot.reset();
    return;
  }
  if (!slot) {
    auto fresh = std::make_shared<group_slot>();
    fresh->pool = pool_of(*sys);
    fresh->name = fresh->pool->acquire();
    fresh->group = sys->groups().get_local(fresh->name);
    slot = std::move(fresh);
  }
  auto contains = [](const auto& xs, const auto& x) {
    return std::find(xs.begin(), xs.end(), x) != xs.end();
  };
  for (auto& m : slot->members)
    if (!contains(wanted, m))
      m->want(slot->group, false);
  for (auto& w : wanted)
    if (!contains(slot->members, w))
      w->want(slot->group, true);
  slot->members = std::move(wanted);
}

// -- sending -----------------------------------------------------------------------------------

std::shared_ptr<Service> signal_current_service() noexcept {
  auto* self = running_actor();
  if (self == nullptr)
    return nullptr;
  return self->service().weak_from_this().lock();
}

void signal_plan::run(service_actor& self, std::uint32_t slot, caf::response_promise rp) {
  if (slot != no_slot) {
    run_on(self, *this, slot, std::move(rp));
    return;
  }
  for (std::size_t i = 0; i < batches.size(); ++i) {
    if (batches[i].home.get() != &self.service())
      continue;
    if (claim(i)) {
      run_on(self, *this, i, std::move(rp));
      return;
    }
    break;
  }
  rp.deliver(caf::unit);
}

task<void> signal_await(signal_plan_ptr plan) {
  if (!plan)
    co_return;
  auto* self = running_actor();
  if (self == nullptr)
    throw std::logic_error(
        fmt::format("Signal '{}': co_await send() runs on a service's actor only (use "
                    "send_nowait() elsewhere)",
                    plan->label()));
  auto& me = self->service();
  auto acks = std::make_shared<ack_state>();
  acks->host = &self->host();
  std::vector<std::size_t> here;
  for (std::size_t i = 0; i < plan->batches.size(); ++i) {
    const auto& b = plan->batches[i];
    if (!b.home || b.home.get() == &me) {
      here.push_back(i);
      continue;
    }
    auto dest = b.home->binding()->get();
    if (!dest)
      continue;  // its actor has gone: nothing runs, nothing to wait for
    ++acks->pending;
    // No timeout: mode's send awaits its receivers. A receiver's actor that exits answers with
    // an error (request_receiver_down), and its running receivers answer as their frames go.
    self->request(dest, caf::infinite, run_atom::value, as_job(plan), static_cast<std::uint32_t>(i))
        .then([acks] { acks->done(); }, [acks](caf::error&) { acks->done(); });
  }
  for (auto i : here) {
    if (plan->batches[i].home && !receives(me))
      continue;
    co_await plan->run_batch(i);
  }
  co_await ack_awaiter{acks};
}

void signal_post(signal_plan_ptr plan) {
  auto* self = running_actor();
  for (std::size_t i = 0; i < plan->batches.size(); ++i) {
    const auto& b = plan->batches[i];
    if (!b.home) {
      run_homeless(self, plan, i);
      continue;
    }
    if (auto dest = b.home->binding()->get())
      caf::anon_send(dest, run_atom::value, as_job(plan), static_cast<std::uint32_t>(i));
  }
}

void signal_post_groups(signal_plan_ptr plan, const std::vector<group_slot_ptr>& targets) {
  plan->enable_claims();
  auto* self = running_actor();
  for (std::size_t i = 0; i < plan->batches.size(); ++i)
    if (!plan->batches[i].home)
      run_homeless(self, plan, i);
  for (const auto& t : targets)
    caf::anon_send(t->group, run_atom::value, as_job(plan), actor_job::no_slot);
}

}  // namespace mode::detail

namespace mode {

signal_group_stats signal_group_pool_stats(caf::actor_system& sys) {
  return detail::pool_of(sys)->stats();
}

}  // namespace mode
