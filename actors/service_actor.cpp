#include "service_actor.hpp"

#include "signal_runtime.hpp"

#include <typeinfo>

#include "introspection.hpp"

namespace mode::detail {

// -- errors ---------------------------------------------------------------------------------

caf::error make_mode_error(errc code, std::string text) {
  return caf::error{static_cast<std::uint8_t>(code), error_category,
                    caf::make_message(std::move(text))};
}

caf::error make_crash_error(const std::string& reason_text) {
  return make_mode_error(errc::crashed, reason_text);
}

std::string error_text(const caf::error& err) {
  if (!err)
    return "none";
  if (err.category() == error_category && err.context().match_elements<std::string>())
    return err.context().get_as<std::string>(0);
  return caf::to_string(err);
}

std::exception_ptr to_exception(const caf::error& err) {
  return std::make_exception_ptr(ServiceCrashed{error_text(err)});
}

const caf::message& maybe_start_message() {
  static const caf::message msg = caf::make_message(start_atom::value, true);
  return msg;
}

const caf::message& stop_message() {
  static const caf::message msg = caf::make_message(stop_atom::value);
  return msg;
}

const caf::message& stop_for_restart_message() {
  static const caf::message msg = caf::make_message(stop_atom::value, restart_atom::value);
  return msg;
}

const caf::message& restart_message() {
  static const caf::message msg = caf::make_message(restart_atom::value);
  return msg;
}

const caf::message& wait_stopped_message() {
  static const caf::message msg = caf::make_message(stopped_atom::value);
  return msg;
}

// -- relay ------------------------------------------------------------------------------------

namespace {

// Forwards (timeout, id) to a sleeper that it knows only by a weak address, so a
// pending delayed message never keeps a stopped service alive. (A class, not a
// function-based actor: CAF 0.17's factory for an argument-less function dereferences a
// null tuple pointer, which UBSan reports.)
class relay_actor : public caf::event_based_actor {
 public:
  using caf::event_based_actor::event_based_actor;
  caf::behavior make_behavior() override {
    return {
        [](timeout_atom, const caf::actor_addr& target, std::uint64_t id) {
          if (auto dest = caf::actor_cast<caf::actor>(target))
            caf::anon_send(dest, timeout_atom::value, id);
        },
    };
  }
  void on_exit() override;
};

std::mutex relay_mtx;
/// Each system's relay, while it lives. An entry goes with its relay; should a relay
/// outlive its system (a leaked reference), a later system built at the same address
/// (a test fixture on the stack) must still not find it, or its timers never fire:
/// `system` names the system instance by its ConfigServ actor, whose control block this
/// weak address keeps, so a later system's cannot have the same address.
struct relay_entry {
  caf::actor_addr relay;
  caf::actor_addr system;
};
std::unordered_map<caf::actor_system*, relay_entry> relays;

void relay_actor::on_exit() {
  std::lock_guard<std::mutex> guard{relay_mtx};
  if (auto i = relays.find(&home_system()); i != relays.end() && i->second.relay == address())
    relays.erase(i);
}

}  // namespace

caf::actor timer_relay(caf::actor_system& sys) {
  // A service spawned from another one's actor shares its relay: no lock on the spawn
  // path (a supervisor's restarts, a parent's children).
  if (auto* spawner = running_actor();
      spawner != nullptr && spawner->relay() && &spawner->home_system() == &sys)
    return spawner->relay();
  auto instance = caf::actor_cast<caf::actor_addr>(sys.config_serv());
  std::lock_guard<std::mutex> guard{relay_mtx};
  auto& entry = relays[&sys];
  if (entry.system == instance)
    if (auto existing = caf::actor_cast<caf::actor>(entry.relay))
      return existing;
  // Hidden: CAF's shutdown does not wait for it. Services hold it strongly; it dies with
  // the last of them once its pending timers fired.
  auto relay = sys.spawn<relay_actor, caf::hidden>();
  entry = relay_entry{relay.address(), std::move(instance)};
  return relay;
}

// -- service_actor ---------------------------------------------------------------------------

namespace {

thread_local service_actor* tls_actor = nullptr;

class actor_scope {
 public:
  explicit actor_scope(service_actor* self) noexcept : previous_(std::exchange(tls_actor, self)) {}
  actor_scope(const actor_scope&) = delete;
  actor_scope& operator=(const actor_scope&) = delete;
  ~actor_scope() { tls_actor = previous_; }

 private:
  service_actor* previous_;
};

}  // namespace

service_actor* running_actor() noexcept {
  if (tls_actor != nullptr)
    return tls_actor;
  if (auto* host = running_host())
    return static_cast<service_actor*>(host->owner());
  return nullptr;
}

service_actor::service_actor(caf::actor_config& cfg, std::shared_ptr<Service> svc,
                             caf::actor_addr parent)
    : caf::event_based_actor(cfg),
      svc_(std::move(svc)),
      activity_(ActivityRegistry::global().watched()
                    ? ActivitySlot{typeid(*svc_), label_of(*svc_)}
                    : ActivitySlot{typeid(*svc_), ActivitySlot::unlisted}),
      host_(*this),
      parent_(std::move(parent)) {
  host_.set_owner(this);
  relay_ = timer_relay(home_system());
}

service_actor::~service_actor() = default;

caf::behavior service_actor::make_behavior() {
  {
    auto& b = *svc_->binding_;
    std::lock_guard<std::mutex> guard{b.mtx};
    b.self = this;
  }
  // CAF's default handler drops the exception's text: keep it as the exit reason.
  set_exception_handler([this](caf::scheduled_actor*, std::exception_ptr& eptr) -> caf::error {
    return make_crash_error(failure_chain(eptr));
  });
  set_exit_handler([this](caf::exit_msg& msg) {
    actor_scope scope{this};
    if (!msg.reason || is_exit_reason(msg.reason, caf::exit_reason::unreachable) || exiting_)
      return;
    // The parent died without stopping this child (or a user linked this actor to one
    // that failed): the crash takes this service down too.
    svc_->crash(to_exception(msg.reason));
  });
  // Messages the lifecycle does not take go to the service's own handlers (add_handler).
  set_default_handler([](caf::scheduled_actor* ptr, caf::message_view& view) {
    auto msg = view.move_content_to_message();
    return static_cast<service_actor*>(ptr)->svc_->handle_message(msg);
  });
  set_down_handler([this](caf::down_msg& msg) {
    // Monitors are installed by watching services, which handle their own down messages.
    actor_scope scope{this};
    if (svc_->monitors_)
      static_cast<watching_service&>(*svc_).on_down_message(msg);
  });
  // One behavior for every service actor: its handlers capture nothing and find their
  // actor through consume(), so a spawn allocates no behavior of its own.
  static const caf::behavior shared = shared_behavior();
  return shared;
}

caf::behavior service_actor::shared_behavior() {
  return {
      [](start_atom, bool maybe) -> caf::result<void> {
        // maybe: mode's maybe_start, as a parent or supervisor asks it: a running service
        // is left alone, a finished one is reset first.
        auto& self = consuming();
        auto& svc = *self.svc_;
        if (maybe && svc.started_) {
          if (!svc.should_stop())
            return caf::unit;
          if (!self.finished())
            return make_crash_error(svc.label() + " <- still stopping");
          svc.service_reset();
        }
        self.run_lifecycle(svc.start(), "Service.start", self.make_response_promise());
        return caf::delegated<void>{};
      },
      [](stop_atom) -> caf::result<void> {
        auto& self = consuming();
        self.run_lifecycle(self.svc_->stop(), "Service.stop", self.make_response_promise(), true);
        return caf::delegated<void>{};
      },
      [](stop_atom, restart_atom) -> caf::result<void> {
        // A supervisor stops a group that it restarts right after: no new actor for that.
        auto& self = consuming();
        self.run_lifecycle(self.svc_->stop(), "Service.stop", self.make_response_promise());
        return caf::delegated<void>{};
      },
      [](restart_atom) -> caf::result<void> {
        auto& self = consuming();
        self.run_lifecycle(self.svc_->restart(), "Service.restart", self.make_response_promise());
        return caf::delegated<void>{};
      },
      [](child_exit_atom, const caf::actor_addr& child, const caf::error& reason) {
        // A child crashed with no supervisor in charge: the crash takes this service down
        // too, and travels on through this actor's own exit. (Children report; they are
        // not linked: CAF unlinks by walking a list, so n children cost O(n^2).)
        auto& self = consuming();
        auto& svc = *self.svc_;
        if (self.exiting_ || svc.crashed_ || child == self.child_in_stop)
          return;
        auto& kids = svc.binding_->children;
        if (std::none_of(kids.begin(), kids.end(), [&](const caf::actor& k) {
              return k && child.compare(caf::actor_cast<caf::abstract_actor*>(k)) == 0;
            }))
          return;  // removed from this service meanwhile
        svc.crash(to_exception(reason));
      },
      [](crash_atom, const std::string& reason) {
        consuming().svc_->crash(std::make_exception_ptr(ServiceCrashed{reason}));
      },
      [](state_atom) { return static_cast<std::int32_t>(consuming().svc_->state()); },
      [](stopped_atom) -> caf::result<void> {
        auto& self = consuming();
        if (self.finished() || !self.svc_->started_)
          return caf::unit;
        self.stopped_waiters_.push_back(self.make_response_promise());
        return caf::delegated<void>{};
      },
      [](traces_atom) { return consuming().svc_->human_tracebacks(); },
      [](introspect_atom) { return introspect(consuming()); },
      [](wake_atom, std::uint64_t id) { consuming().host_.resume(id, wake_reason::fired); },
      [](timeout_atom, std::uint64_t id) { consuming().host_.resume(id, wake_reason::timed_out); },
      [](begin_atom, std::uint64_t id) { consuming().host_.begin(id); },
      [](run_atom, const actor_job_ptr& job, std::uint32_t slot) -> caf::result<void> {
        auto& self = consuming();
        job->run(self, slot, self.make_response_promise());
        return caf::delegated<void>{};
      },
  };
}

service_actor& service_actor::consuming() noexcept {
  return *tls_actor;
}

caf::invoke_message_result service_actor::consume(caf::mailbox_element& x) {
  activity_guard busy{*this, activity_, x};
  actor_scope scope{this};  // the shared behavior's handlers find this actor here
  in_turn_ = true;
  auto result = caf::event_based_actor::consume(x);
  in_turn_ = false;
  // An actor that quits in this turn answers from on_exit, right before CAF sends its
  // down message: a supervisor then wakes once for both.
  if (!exiting_)
    flush_answers();
  return result;
}

void service_actor::on_exit() {
  // CAF drops pending response handlers without calling them: the frames waiting on
  // them are ours to destroy, and none of them may resume after this.
  actor_scope scope{this};
  signal_service_running(*this, false);
  host_.destroy_all();
  // Steps cut short (killed): their requesters learn now instead of at their timeout.
  // (A promise holds its requester: kept here, it would keep that actor alive.)
  for (auto& request : lifecycle_requests_)
    request.rp.deliver(caf::make_error(caf::sec::request_receiver_down));
  lifecycle_requests_.clear();
  const auto& reason = fail_state();
  bool failed = is_failure(reason);
  if (svc_->monitors_)
    static_cast<watching_service&>(*svc_).on_actor_exit(failed ? reason : caf::error{});
  flush_answers();
  if (failed && parent_)
    if (auto parent = caf::actor_cast<caf::actor>(parent_))
      caf::anon_send(parent, child_exit_atom::value, address(), reason);
  {
    auto& b = *svc_->binding_;
    std::lock_guard<std::mutex> guard{b.mtx};
    b.self = nullptr;
    // Killed, or failed without running its stop sequence: what a link would have done,
    // each child is told (a finished stop already stopped or crashed them).
    if (failed && !svc_->shutdown_)
      for (auto& child : b.children)
        if (child)
          send_exit(child, reason);
    if (b.actor == address())
      b.actor = nullptr;  // exited: a handle's start() or restart() spawns a new actor
    b.children.clear();
  }
  // Last, once the binding no longer names this actor: a start sent in reply to one of
  // these spawns a new actor.
  for (auto& rp : stopped_waiters_)
    rp.deliver(caf::unit);
  stopped_waiters_.clear();
  relay_ = nullptr;
  // An actor killed outright (exit_reason::kill) never finished its stop: its reference
  // to itself would keep it alive forever.
  keep_alive_ = nullptr;
}

void service_actor::post_wake(std::uint64_t id) {
  send(this, wake_atom::value, id);
}

void service_actor::schedule_timeout(std::uint64_t id, std::chrono::nanoseconds delay) {
  // Anonymous: a sender field would hold this actor alive until the timeout fires.
  caf::delayed_anon_send(relay_, delay, timeout_atom::value, address(), id);
}

void service_actor::post_begin(std::uint64_t id) {
  send(this, begin_atom::value, id);
}

void service_actor::on_task_done(std::uint64_t id, bool is_future, std::exception_ptr error) {
  if (!is_future) {
    auto i = std::find_if(lifecycle_requests_.begin(), lifecycle_requests_.end(),
                          [id](const auto& entry) { return entry.id == id; });
    if (i != lifecycle_requests_.end()) {
      auto request = std::move(*i);
      lifecycle_requests_.erase(i);
      if (lifecycle_requests_.empty())
        lifecycle_requests_.shrink_to_fit();  // an idle service keeps no table
      if (request.final && !error && svc_->state() == ServiceState::shutdown && !exiting_) {
        // Stopped for good: the actor goes now, as a plain CAF actor quits when told to
        // stop, rather than with its last reference (a whole tree at once, in one
        // thread). A later start gets a fresh actor. Answered from on_exit, once the
        // binding no longer names this actor, so that a start sent in reply spawns anew.
        exiting_ = true;
        stopped_waiters_.push_back(std::move(request.rp));
        keep_alive(false);
        quit();
        return;
      }
      answer(std::move(request.rp), error ? make_crash_error(failure_chain(error)) : caf::error{});
      return;
    }
  }
  svc_->on_task_done(id, is_future, std::move(error));
}

void service_actor::keep_alive(bool on) {
  if (on)
    keep_alive_ = caf::actor_cast<caf::strong_actor_ptr>(this);
  else
    keep_alive_ = nullptr;
}

void service_actor::run_lifecycle(task<void> step, const char* name, caf::response_promise rp,
                                  bool final) {
  // Begun at once, in the handler that asked for it: a start or stop costs no extra
  // message to self. Answered from on_task_done when the step ends.
  auto id = host_.launch(std::move(step), name, false, false);
  if (id == 0) {
    answer(std::move(rp), caf::error{});
    return;
  }
  lifecycle_requests_.push_back({id, std::move(rp), final});
  host_.begin(id);
}

void service_actor::answer(caf::response_promise rp, caf::error error) {
  if (!in_turn_) {
    deliver(rp, std::move(error));
    return;
  }
  if (!turn_answer_)
    turn_answer_.emplace(std::move(rp), std::move(error));
  else
    more_turn_answers_.emplace_back(std::move(rp), std::move(error));
}

void service_actor::deliver(caf::response_promise& rp, caf::error error) {
  if (error)
    rp.deliver(std::move(error));
  else
    rp.deliver(caf::unit);
}

void service_actor::flush_answers() {
  if (!turn_answer_)
    return;
  auto first = std::move(*turn_answer_);
  turn_answer_.reset();
  deliver(first.first, std::move(first.second));
  auto more = std::move(more_turn_answers_);
  more_turn_answers_.clear();
  for (auto& [rp, error] : more)
    deliver(rp, std::move(error));
}

void service_actor::exit_crashed() {
  if (exiting_)
    return;
  exiting_ = true;
  auto reason = failure_chain(svc_->crash_reason_);
  keep_alive(false);
  notify_stopped();
  quit(make_crash_error(reason));
}

std::string service_actor::failure_chain(const std::exception_ptr& error) {
  auto label = svc_->label();
  std::string described;
  const std::string* reason = &described;
  if (!error)
    described = "crashed";
  else if (error == svc_->crash_reason_)
    reason = &svc_->crash_text();
  else
    described = describe_exception(error);
  std::string chain;
  chain.reserve(label.size() + 4 + reason->size());
  chain += label;
  chain += " <- ";
  chain += *reason;
  return chain;
}

void service_actor::notify_stopped() {
  for (auto& rp : stopped_waiters_)
    rp.deliver(caf::unit);
  stopped_waiters_.clear();
}

// -- request_awaiter --------------------------------------------------------------------------

request_awaiter::request_awaiter(service_actor* self, caf::actor dest, caf::message msg,
                                 const char* what, std::source_location where)
    : wait_awaiter(self != nullptr ? &self->host() : nullptr, std::nullopt, false, false, what,
                   where),
      self_(self),
      dest_(std::move(dest)),
      msg_(std::move(msg)) {
  node_.context = this;
}

void request_awaiter::on_registered(std::uint64_t id) {
  auto* host = host_;
  self_->request(dest_, caf::infinite, std::move(msg_))
      .then(
          [host, id]() {
            if (host->find(id) != nullptr)
              host->resume(id, wake_reason::fired);
          },
          [host, id](caf::error& err) {
            if (auto* node = host->find(id)) {
              static_cast<request_awaiter*>(node->context)->error_ = std::move(err);
              host->resume(id, wake_reason::fired);
            }
          });
}

caf::message request_awaiter::await_resume() {
  wait_awaiter::await_resume();
  if (error_)
    std::rethrow_exception(to_exception(error_));
  return std::move(result_);
}

caf::error try_request_awaiter::await_resume() {
  wait_awaiter::await_resume();  // throws only CancelledError, when its task is cancelled
  return std::move(error_);
}

// -- spawning -----------------------------------------------------------------------------------

bool service_actor::finished() const noexcept {
  return exiting_ || svc_->shutdown_;
}

caf::actor service_actor::spawn(caf::actor_system& sys, std::shared_ptr<Service> svc, int depth,
                                std::weak_ptr<Service> parent, caf::actor_addr parent_actor) {
  svc->depth_ = depth;
  svc->parent_ = std::move(parent);
  auto& b = *svc->binding_;
  {
    // Read before the actor exists: the user's label() may read state its actor writes.
    auto label = svc->label();
    std::lock_guard<std::mutex> guard{b.mtx};
    b.label = std::move(label);
  }
  // Lazy: initialised with its first message (a start or restart request always comes
  // right away), which spares one scheduling round per spawn.
  auto hdl = sys.spawn<service_actor, caf::lazy_init>(svc, std::move(parent_actor));
  std::lock_guard<std::mutex> guard{b.mtx};
  b.system = &sys;
  b.actor = hdl.address();
  return hdl;
}

std::string label_of(const Service& svc) {
  if (const auto& b = svc.binding()) {
    std::lock_guard<std::mutex> guard{b->mtx};
    if (!b->label.empty())
      return b->label;
  }
  return svc.label();
}

}  // namespace mode::detail
