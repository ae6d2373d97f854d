#include "mode/blocking_detector.hpp"

#include <cxxabi.h>

#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "mode/detail/demangle.hpp"
#include "mode/logging.hpp"

namespace mode {

namespace {

// The name of the function in a std::source_location: without the return type and
// the parameter list, which for a coroutine g++ spells as its frame type
// ("void mode::IterTimer::next(mode::IterTimer::next()::_ZN...Frame*)").
std::string short_function(std::string_view fn) {
  if (!fn.empty() && fn.back() == ')') {
    int depth = 0;
    for (auto i = fn.size(); i-- > 0;) {
      if (fn[i] == ')')
        ++depth;
      if (fn[i] == '(' && --depth == 0) {
        fn = fn.substr(0, i);
        break;
      }
    }
  }
  int depth = 0;
  for (std::size_t i = 0; i < fn.size(); ++i) {
    char c = fn[i];
    if (c == '<' || c == '(' || c == '[')
      ++depth;
    if (c == '>' || c == ')' || c == ']')
      --depth;
    if (c == ' ' && depth == 0) {
      fn.remove_prefix(i + 1);
      break;
    }
  }
  return std::string{fn};
}

}  // namespace

// -- ActivitySlot ---------------------------------------------------------------------------

ActivitySlot::ActivitySlot(const std::type_info& type, std::string label,
                           ActivityRegistry* registry)
    : type_(&type),
      label_(label.empty() ? nullptr : std::make_unique<const std::string>(std::move(label))),
      registry_(registry != nullptr ? registry : &ActivityRegistry::global()) {
  registry_->add(*this);
}

ActivitySlot::ActivitySlot(const std::type_info& type, unlisted_t) noexcept
    : type_(&type), registry_(nullptr) {}

ActivitySlot::~ActivitySlot() {
  if (registry_ != nullptr)
    registry_->remove(*this);
}

ActivitySlot::sample ActivitySlot::read() const noexcept {
  sample result;
  // Retry if a new message began while reading, so handler and where belong to the
  // generation returned (they are only hints if it changes under us anyway).
  for (int attempt = 0; attempt < 4; ++attempt) {
    auto before = state_.load(std::memory_order_acquire);
    // Acquire loads (not a fence, which GCC's TSan does not support) keep the second
    // read of state_ after the data reads.
    result.handler = handler_.load(std::memory_order_acquire);
    result.where = where_.load(std::memory_order_acquire);
    auto after = state_.load(std::memory_order_relaxed);
    result.generation = after >> 1;
    result.busy = (after & 1) != 0;
    if (before == after)
      break;
  }
  return result;
}

std::string ActivitySlot::label() const {
  return label_ ? *label_ : detail::class_label(*type_);
}

// -- ActivityRegistry ---------------------------------------------------------------------

ActivityRegistry& ActivityRegistry::global() {
  // Never destroyed: actors may still unregister during static destruction.
  static auto* registry = new ActivityRegistry;
  return *registry;
}

void ActivityRegistry::add(ActivitySlot& slot) {
  std::lock_guard<std::mutex> guard{mtx_};
  slot.id_ = next_id_++;
  slot.next_ = head_;
  if (head_ != nullptr)
    head_->prev_ = &slot;
  head_ = &slot;
  ++size_;
}

void ActivityRegistry::remove(ActivitySlot& slot) noexcept {
  std::lock_guard<std::mutex> guard{mtx_};
  if (slot.prev_ != nullptr)
    slot.prev_->next_ = slot.next_;
  else
    head_ = slot.next_;
  if (slot.next_ != nullptr)
    slot.next_->prev_ = slot.prev_;
  slot.prev_ = slot.next_ = nullptr;
  --size_;
}

void ActivityRegistry::for_each(const std::function<void(const ActivitySlot&)>& fn) const {
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto* slot = head_; slot != nullptr; slot = slot->next_)
    fn(*slot);
}

std::size_t ActivityRegistry::size() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return size_;
}

// -- BlockingReport -------------------------------------------------------------------------

std::string BlockingReport::message() const {
  auto text = fmt::format(
      "Blocking detected (timeout={}s): service {} blocked its thread for {:.3g}s "
      "in handler '{}'",
      timeout.count(), service, blocked_for.count(), handler);
  if (!where.empty())
    text += fmt::format(" (task waited at {})", where);
  if (suppressed > 0)
    text += fmt::format(" [{} more reports suppressed]", suppressed);
  return text;
}

// -- BlockingDetector ---------------------------------------------------------------------

struct BlockingDetector::impl {
  // What the detector remembers of a busy slot between checks.
  struct episode {
    std::uint64_t generation = 0;
    clock_type::time_point first_seen;
    clock_type::time_point next_report;
    bool seen = false;
  };

  BlockingDetectorOptions options;
  std::mutex check_mtx;  // one check at a time (thread and test calls)
  std::unordered_map<std::uint64_t, episode> episodes;
  std::deque<clock_type::time_point> recent_reports;
  std::size_t suppressed = 0;

  std::mutex thread_mtx;
  std::condition_variable wake;
  bool stopping = false;
  std::thread thread;
};

BlockingDetector::BlockingDetector(BlockingDetectorOptions options)
    : timeout_(options.timeout.duration()), impl_(std::make_unique<impl>()) {
  if (!(timeout_.count() > 0))
    throw std::invalid_argument(
        fmt::format("mode: BlockingDetector timeout must be > 0, got '{}'", timeout_.count()));
  if (!options.clock)
    options.clock = [] {
      return clock_type::now();
    };
  if (!options.registry)
    options.registry = &ActivityRegistry::global();
  if (!options.reporter) {
    options.reporter = [lg = get_logger("mode.debug")](const BlockingReport& report) {
      lg->warn(report.message());
    };
  }
  impl_->options = std::move(options);
  impl_->options.registry->watchers_.fetch_add(1, std::memory_order_relaxed);
}

BlockingDetector::~BlockingDetector() {
  stop();
  impl_->options.registry->watchers_.fetch_sub(1, std::memory_order_relaxed);
}

void BlockingDetector::start() {
  std::lock_guard<std::mutex> guard{impl_->thread_mtx};
  if (impl_->thread.joinable())
    return;
  impl_->stopping = false;
  // Often enough that a block is reported at most a quarter timeout late.
  auto interval = std::chrono::duration_cast<clock_type::duration>(timeout_ / 4);
  if (interval < std::chrono::milliseconds{1})
    interval = std::chrono::milliseconds{1};
  impl_->thread = std::thread{[this, interval] {
    std::unique_lock<std::mutex> lock{impl_->thread_mtx};
    while (!impl_->stopping) {
      impl_->wake.wait_for(lock, interval, [this] { return impl_->stopping; });
      if (impl_->stopping)
        break;
      lock.unlock();
      check();
      lock.lock();
    }
  }};
}

void BlockingDetector::stop() {
  std::thread thread;
  {
    std::lock_guard<std::mutex> guard{impl_->thread_mtx};
    impl_->stopping = true;
    thread = std::move(impl_->thread);
  }
  impl_->wake.notify_all();
  if (thread.joinable())
    thread.join();
}

std::size_t BlockingDetector::check() {
  auto& self = *impl_;
  std::lock_guard<std::mutex> guard{self.check_mtx};
  auto now = self.options.clock();
  auto timeout = std::chrono::duration_cast<clock_type::duration>(timeout_);
  std::vector<BlockingReport> due;
  std::unordered_map<std::uint64_t, impl::episode> still_busy;
  self.options.registry->for_each([&](const ActivitySlot& slot) {
    auto s = slot.read();
    if (!s.busy)
      return;
    auto ep = self.episodes[slot.id()];
    if (!ep.seen || ep.generation != s.generation) {
      // First sight of this handler: it has been running at least since now.
      ep = impl::episode{s.generation, now, now + timeout, true};
    } else if (now >= ep.next_report) {
      BlockingReport report;
      report.service = slot.label();
      report.handler = s.handler != nullptr ? s.handler : "";
      if (s.where.line() != 0)
        report.where = fmt::format("{}:{} in {}", s.where.file_name(), s.where.line(),
                                   short_function(s.where.function_name()));
      report.blocked_for = now - ep.first_seen;
      report.timeout = timeout_;
      due.push_back(std::move(report));
      // Still stuck one more timeout later: report again (if the rate allows).
      while (ep.next_report <= now)
        ep.next_report += timeout;
    }
    still_busy.emplace(slot.id(), ep);
  });
  // Slots that went idle or away are forgotten.
  self.episodes = std::move(still_busy);
  std::size_t reported = 0;
  for (auto& report : due) {
    while (!self.recent_reports.empty() &&
           now - self.recent_reports.front() >= std::chrono::minutes{1})
      self.recent_reports.pop_front();
    if (self.recent_reports.size() >= self.options.max_reports_per_minute) {
      ++self.suppressed;
      continue;
    }
    self.recent_reports.push_back(now);
    report.suppressed = std::exchange(self.suppressed, 0);
    self.options.reporter(report);
    ++reported;
  }
  return reported;
}

}  // namespace mode
