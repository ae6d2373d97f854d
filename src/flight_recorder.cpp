#include "mode/flight_recorder.hpp"

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace mode {

// -- timer queues ---------------------------------------------------------------

namespace detail {

// Deadlines in order; the id breaks ties by scheduling order and lets a
// handle find its entry again.
struct timer_queue {
  using time_point = std::chrono::steady_clock::time_point;
  using key = std::pair<time_point, std::uint64_t>;

  mutable std::mutex mtx;
  std::condition_variable cv;
  std::map<key, std::function<void()>> entries;
  std::uint64_t next_id = 0;
  bool stopping = false;
  std::thread thread;
  // ManualTimerScheduler's virtual time.
  time_point now{};

  static TimerHandle handle_for(const std::shared_ptr<timer_queue>& queue, key k) {
    return TimerHandle{[weak = std::weak_ptr<timer_queue>{queue}, k] {
      auto self = weak.lock();
      if (!self)
        return false;
      std::function<void()> dropped;  // destroyed after unlocking
      std::lock_guard<std::mutex> guard{self->mtx};
      auto i = self->entries.find(k);
      if (i == self->entries.end())
        return false;
      dropped = std::move(i->second);
      self->entries.erase(i);
      return true;
    }};
  }

  // Pops the earliest entry due by `t`; callers hold `mtx`.
  std::function<void()> pop_due(time_point t) {
    if (entries.empty() || entries.begin()->first.first > t)
      return {};
    auto fn = std::move(entries.begin()->second);
    entries.erase(entries.begin());
    return fn;
  }
};

}  // namespace detail

namespace {

void run_reporting(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mode: timer callback threw: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "mode: timer callback threw a non-std exception\n");
  }
}

void timer_loop(detail::timer_queue& q) {
  std::unique_lock<std::mutex> lock{q.mtx};
  while (!q.stopping) {
    if (q.entries.empty()) {
      q.cv.wait(lock);
      continue;
    }
    auto deadline = q.entries.begin()->first.first;
    if (std::chrono::steady_clock::now() < deadline) {
      q.cv.wait_until(lock, deadline);
      continue;  // woken early, by a new entry, a cancel, or stop
    }
    auto fn = q.pop_due(deadline);
    lock.unlock();
    run_reporting(fn);
    fn = nullptr;  // release captures outside the lock
    lock.lock();
  }
}

}  // namespace

TimerScheduler::~TimerScheduler() = default;

ThreadTimerScheduler::ThreadTimerScheduler() : queue_(std::make_shared<detail::timer_queue>()) {}

ThreadTimerScheduler::~ThreadTimerScheduler() {
  std::map<detail::timer_queue::key, std::function<void()>> dropped;
  std::thread thread;
  {
    std::lock_guard<std::mutex> guard{queue_->mtx};
    queue_->stopping = true;
    dropped.swap(queue_->entries);
    thread = std::move(queue_->thread);
  }
  queue_->cv.notify_all();
  if (thread.joinable()) {
    // A callback that destroys its own scheduler cannot join itself.
    if (thread.get_id() == std::this_thread::get_id())
      thread.detach();
    else
      thread.join();
  }
}

TimerHandle ThreadTimerScheduler::schedule(duration delay, std::function<void()> fn) {
  auto deadline = std::chrono::steady_clock::now() + delay;
  detail::timer_queue::key k;
  {
    std::lock_guard<std::mutex> guard{queue_->mtx};
    if (queue_->stopping)
      return {};
    k = {deadline, queue_->next_id++};
    queue_->entries.emplace(k, std::move(fn));
    if (!queue_->thread.joinable())
      queue_->thread = std::thread{[q = queue_] {
        timer_loop(*q);
      }};
  }
  queue_->cv.notify_all();
  return detail::timer_queue::handle_for(queue_, k);
}

std::size_t ThreadTimerScheduler::pending() const {
  std::lock_guard<std::mutex> guard{queue_->mtx};
  return queue_->entries.size();
}

TimerScheduler& default_timer_scheduler() {
  static ThreadTimerScheduler scheduler;
  return scheduler;
}

ManualTimerScheduler::ManualTimerScheduler() : queue_(std::make_shared<detail::timer_queue>()) {}

ManualTimerScheduler::~ManualTimerScheduler() {
  std::map<detail::timer_queue::key, std::function<void()>> dropped;
  std::lock_guard<std::mutex> guard{queue_->mtx};
  dropped.swap(queue_->entries);
}

TimerHandle ManualTimerScheduler::schedule(duration delay, std::function<void()> fn) {
  detail::timer_queue::key k;
  {
    std::lock_guard<std::mutex> guard{queue_->mtx};
    k = {queue_->now + delay, queue_->next_id++};
    queue_->entries.emplace(k, std::move(fn));
  }
  return detail::timer_queue::handle_for(queue_, k);
}

std::size_t ManualTimerScheduler::advance(duration delta) {
  std::size_t fired = 0;
  std::unique_lock<std::mutex> lock{queue_->mtx};
  queue_->now += delta;
  for (auto fn = queue_->pop_due(queue_->now); fn; fn = queue_->pop_due(queue_->now)) {
    lock.unlock();
    fn();
    ++fired;
    fn = nullptr;
    lock.lock();
  }
  return fired;
}

std::size_t ManualTimerScheduler::pending() const {
  std::lock_guard<std::mutex> guard{queue_->mtx};
  return queue_->entries.size();
}

TimerScheduler::duration ManualTimerScheduler::now() const {
  std::lock_guard<std::mutex> guard{queue_->mtx};
  return queue_->now.time_since_epoch();
}

// -- asctime --------------------------------------------------------------------------

std::string asctime(std::chrono::system_clock::time_point when) {
  // Python's names regardless of the C locale.
  static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  auto t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  localtime_r(&t, &tm);
  return fmt::format("{} {} {:2} {:02}:{:02}:{:02} {}", days[tm.tm_wday], months[tm.tm_mon],
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_year + 1900);
}

// -- flight_recorder state -------------------------------------------------------------

namespace detail {

struct flight_recorder_state : std::enable_shared_from_this<flight_recorder_state> {
  enum class phase { idle, active, fired };

  struct entry {
    Severity severity;
    std::string message;
    std::chrono::system_clock::time_point at;
  };

  // Set once at construction.
  std::shared_ptr<spdlog::logger> logger;
  flight_recorder::timeout_type timeout;
  TimerScheduler* scheduler;
  flight_recorder::clock_function clock;
  std::uint64_t id;
  std::shared_ptr<flight_recorder_state> parent;

  // Guarded by mtx: the timeout fires on the scheduler's thread.
  mutable std::mutex mtx;
  phase state = phase::idle;
  std::uint64_t generation = 0;  // tells a stale timeout from the current one
  TimerHandle timer;
  std::chrono::system_clock::time_point started_at;
  std::string enabled_by;
  std::function<std::string()> traceback;
  std::map<std::string, std::string> extra;
  std::vector<entry> logs;

  std::string ident() const { return fmt::format("Flight Recorder-{}", id); }

  void emit(Severity severity, std::string_view message) const {
    logger->log(want_level(severity), spdlog::string_view_t{message.data(), message.size()});
  }

  void log(Severity severity, std::string_view message) {
    {
      std::lock_guard<std::mutex> guard{mtx};
      if (state == phase::active) {
        logs.push_back({severity, std::string{message}, clock()});
        return;
      }
    }
    emit(severity, message);
  }

  void on_timeout(std::uint64_t gen) {
    std::function<std::string()> traceback_fn;
    auto id_text = ident();
    try {
      {
        std::lock_guard<std::mutex> guard{mtx};
        if (state != phase::active || generation != gen)
          return;
        state = phase::fired;
        timer = TimerHandle{};
        // Replayed under the lock: log calls from the hanging task wait, then
        // go straight through, so they follow the replay.
        auto buffered = std::move(logs);
        logs.clear();
        std::string context;
        for (const auto& [k, v] : extra)
          context += fmt::format("{}{}='{}'", context.empty() ? " " : ", ", k, v);
        emit(Severity::warning, "Warning: Task timed out!");
        emit(Severity::warning, "Please make sure it's hanging before restart.");
        emit(Severity::info, fmt::format("[{}] (started at {}) Replaying logs...", id_text,
                                         mode::asctime(started_at)));
        for (const auto& e : buffered)
          emit(e.severity,
               fmt::format("[{}] ({}) {}{}", id_text, mode::asctime(e.at), e.message, context));
        emit(Severity::info, fmt::format("[{}] -End of log-", id_text));
        emit(Severity::info, fmt::format("[{}] Task traceback", id_text));
        if (!enabled_by.empty())
          emit(Severity::info, fmt::format("[{}] Enabled by {}", id_text, enabled_by));
        else if (!traceback)
          emit(Severity::info, fmt::format("[{}] -missing-: not enabled by task", id_text));
        traceback_fn = traceback;
      }
      // Outside the lock: it may look at anything, this recorder included.
      if (traceback_fn) {
        if (auto where = traceback_fn(); !where.empty())
          emit(Severity::info, where);
      }
    } catch (const std::exception& e) {
      // mode logs the error and re-raises; on the scheduler's thread there is
      // nobody to raise to.
      try {
        emit(Severity::error, fmt::format("Flight recorder internal error: {}", e.what()));
      } catch (...) {
      }
    }
  }
};

}  // namespace detail

// -- flight_recorder ------------------------------------------------------------------

namespace {

std::atomic<std::uint64_t> next_recorder_id{1};

flight_recorder::timeout_type checked_timeout(flight_recorder::timeout_type timeout) {
  auto secs = timeout.count();
  if (!std::isfinite(secs) || secs < 0 || secs > 1e9)
    throw std::invalid_argument(fmt::format(
        "invalid flight_recorder timeout '{}s': expected a finite number of seconds >= 0", secs));
  return timeout;
}

std::shared_ptr<detail::flight_recorder_state> make_state(std::shared_ptr<spdlog::logger> logger,
                                                          flight_recorder::timeout_type timeout,
                                                          TimerScheduler& scheduler,
                                                          flight_recorder::clock_function clock) {
  if (!logger)
    throw std::invalid_argument("flight_recorder: logger is null");
  auto state = std::make_shared<detail::flight_recorder_state>();
  state->logger = std::move(logger);
  state->timeout = checked_timeout(timeout);
  state->scheduler = &scheduler;
  state->clock = clock ? std::move(clock) : [] {
    return std::chrono::system_clock::now();
  };
  state->id = next_recorder_id.fetch_add(1);
  return state;
}

detail::flight_recorder_state& live(const std::shared_ptr<detail::flight_recorder_state>& state) {
  if (!state)
    throw std::logic_error("flight_recorder: used after being moved from");
  return *state;
}

}  // namespace

flight_recorder::flight_recorder(std::shared_ptr<spdlog::logger> logger, timeout_type timeout)
    : flight_recorder(std::move(logger), timeout, default_timer_scheduler()) {}

flight_recorder::flight_recorder(std::shared_ptr<spdlog::logger> logger, timeout_type timeout,
                                 TimerScheduler& scheduler, clock_function clock)
    : state_(make_state(std::move(logger), timeout, scheduler, std::move(clock))) {}

flight_recorder::flight_recorder(std::shared_ptr<detail::flight_recorder_state> state)
    : state_(std::move(state)) {}

flight_recorder::~flight_recorder() {
  cancel();
}

flight_recorder::flight_recorder(flight_recorder&&) noexcept = default;

flight_recorder& flight_recorder::operator=(flight_recorder&& other) noexcept {
  if (this != &other) {
    cancel();
    state_ = std::move(other.state_);
  }
  return *this;
}

flight_recorder flight_recorder::nested(timeout_type timeout) const {
  auto& self = live(state_);
  auto child = make_state(self.logger, timeout, *self.scheduler, self.clock);
  child->parent = state_;
  std::lock_guard<std::mutex> guard{self.mtx};
  child->enabled_by = self.enabled_by;
  child->traceback = self.traceback;
  return flight_recorder{std::move(child)};
}

void flight_recorder::activate() {
  auto& self = live(state_);
  std::map<std::string, std::string> inherited;
  if (self.parent) {
    std::lock_guard<std::mutex> guard{self.parent->mtx};
    inherited = self.parent->extra;
  }
  std::uint64_t gen;
  {
    std::lock_guard<std::mutex> guard{self.mtx};
    if (self.state != detail::flight_recorder_state::phase::idle)
      throw std::logic_error(fmt::format("flight_recorder {} already activated", self.ident()));
    for (auto& [k, v] : inherited)
      self.extra.emplace(k, v);  // keeps this recorder's own value
    self.started_at = self.clock();
    self.state = detail::flight_recorder_state::phase::active;
    gen = ++self.generation;
  }
  // Scheduled outside the lock, in case a scheduler runs callbacks at once.
  auto handle =
      self.scheduler->schedule(std::chrono::duration_cast<TimerScheduler::duration>(self.timeout),
                               [state = state_, gen] { state->on_timeout(gen); });
  std::lock_guard<std::mutex> guard{self.mtx};
  if (self.generation == gen && self.state == detail::flight_recorder_state::phase::active)
    self.timer = std::move(handle);
  // Otherwise cancel() or the timeout came first; nothing left to cancel.
}

void flight_recorder::cancel() noexcept {
  if (!state_)
    return;
  TimerHandle timer;
  std::vector<detail::flight_recorder_state::entry> dropped;
  {
    std::lock_guard<std::mutex> guard{state_->mtx};
    state_->state = detail::flight_recorder_state::phase::idle;
    ++state_->generation;
    timer = std::move(state_->timer);
    state_->timer = TimerHandle{};
    dropped.swap(state_->logs);
  }
  try {
    timer.cancel();
  } catch (...) {
    // A scheduler that fails to cancel leaves a stale callback; the generation
    // check makes it harmless.
  }
}

void flight_recorder::log(Severity severity, std::string_view message) {
  live(state_).log(severity, message);
}

log_function flight_recorder::log_function() const {
  return [state = state_](Severity severity, std::string_view message) {
    live(state).log(severity, message);
  };
}

void flight_recorder::enabled_by(std::string what) {
  auto& self = live(state_);
  std::lock_guard<std::mutex> guard{self.mtx};
  self.enabled_by = std::move(what);
}

std::string flight_recorder::enabled_by() const {
  auto& self = live(state_);
  std::lock_guard<std::mutex> guard{self.mtx};
  return self.enabled_by;
}

void flight_recorder::task_traceback(std::function<std::string()> fn) {
  auto& self = live(state_);
  std::lock_guard<std::mutex> guard{self.mtx};
  self.traceback = std::move(fn);
}

void flight_recorder::extra_context(std::string key, std::string value) {
  auto& self = live(state_);
  std::lock_guard<std::mutex> guard{self.mtx};
  self.extra.insert_or_assign(std::move(key), std::move(value));
}

std::map<std::string, std::string> flight_recorder::extra_context() const {
  auto& self = live(state_);
  std::lock_guard<std::mutex> guard{self.mtx};
  return self.extra;
}

std::uint64_t flight_recorder::id() const noexcept {
  return state_ ? state_->id : 0;
}

std::string flight_recorder::ident() const {
  return live(state_).ident();
}

bool flight_recorder::active() const {
  auto& self = live(state_);
  std::lock_guard<std::mutex> guard{self.mtx};
  return self.state == detail::flight_recorder_state::phase::active;
}

bool flight_recorder::timed_out() const {
  auto& self = live(state_);
  std::lock_guard<std::mutex> guard{self.mtx};
  return self.state == detail::flight_recorder_state::phase::fired;
}

flight_recorder::timeout_type flight_recorder::timeout() const noexcept {
  return state_ ? state_->timeout : timeout_type{};
}

const std::shared_ptr<spdlog::logger>& flight_recorder::logger() const noexcept {
  static const std::shared_ptr<spdlog::logger> none;
  return state_ ? state_->logger : none;
}

}  // namespace mode
