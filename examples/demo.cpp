// demo: the README's demo. A Worker runs a small tree of services from the command
// line: three fetchers with a background task each under a OneForOneSupervisor (one
// of them crashes every few seconds and is restarted); each batch they fetch goes out
// on an async Signal that a reporter hears on its own actor and sums up on a 1 s
// timer; a minutely crontab. It logs the lifecycle and stops cleanly on Ctrl-C (SIGINT),
// SIGTERM, or after --duration seconds.
//
// Run: ./scripts/demo --duration 5      (or: build/examples/demo --help)
#include <mode/mode.hpp>
#include <mode/signal.hpp>
#include <mode/supervisors.hpp>
#include <mode/worker.hpp>

#include <cstring>
#include <iostream>
#include <map>
#include <random>

using namespace std::chrono_literals;

namespace {

/// mode's Signal: a fetcher's label (the sender) and the batch size.
using BatchSignal = mode::Signal<std::string, int>;

/// Fetches a batch every 300 ms in a background task. A flaky one loses its
/// connection every tenth batch: the exception crashes it, and its supervisor
/// restarts it.
class Fetcher : public mode::Service {
 public:
  Fetcher(int id, bool flaky, std::shared_ptr<BatchSignal> batches)
      : id_(id), flaky_(flaky), batches_(std::move(batches)) {
    add_task(&Fetcher::fetch, "Fetcher.fetch");
  }
  std::string label() const override { return "Fetcher-" + std::to_string(id_); }

 private:
  mode::task<void> fetch() {
    int batches = 0;
    while (!should_stop()) {
      co_await sleep(300ms);
      batches_->send_nowait(label(), 10);  // fire and forget
      if (flaky_ && ++batches == 10)
        throw std::runtime_error("connection reset by peer");
    }
  }
  int id_;
  bool flaky_;
  std::shared_ptr<BatchSignal> batches_;
};

/// The fetchers under a OneForOneSupervisor: a crashed fetcher is restarted alone.
std::shared_ptr<mode::Service> make_ingest(const std::shared_ptr<BatchSignal>& batches) {
  auto sup = std::make_shared<mode::OneForOneSupervisor>();
  for (int i = 1; i <= 3; ++i)
    sup->add(std::make_shared<Fetcher>(i, i == 2, batches));
  return sup;
}

/// Hears every batch (on its own actor: no locks), reports every second (mode's
/// @Service.timer(1.0)) and once a minute (a crontab).
class Reporter : public mode::Service {
 public:
  explicit Reporter(std::shared_ptr<BatchSignal> batches) : batches_(std::move(batches)) {
    timer(1s, &Reporter::report);
    crontab("* * * * *", &Reporter::minutely);
  }
  mode::task<void> on_start() override {
    // Connected from this service's actor, so the receiver runs there.
    batches_->connect([this](const std::string& fetcher, int items) {
      fetched_ += items;
      ++per_fetcher_[fetcher];
    });
    co_return;
  }

 private:
  mode::task<void> report() {
    log().info("fetched {} items so far ({} batches from Fetcher-2)", fetched_,
               per_fetcher_["Fetcher-2"]);
    co_return;
  }
  mode::task<void> minutely() {
    log().info("a new minute: {} items", fetched_);
    co_return;
  }
  std::shared_ptr<BatchSignal> batches_;
  long fetched_ = 0;
  std::map<std::string, int> per_fetcher_;
};

/// Stops the worker after a while (the demo's --duration).
class Deadline : public mode::Service {
 public:
  Deadline(mode::Worker& worker, mode::Seconds after) : worker_(worker), after_(after) {
    add_task(&Deadline::wait_then_stop, "Deadline.wait");
  }

 private:
  mode::task<void> wait_then_stop() {
    co_await sleep(after_);
    if (!should_stop()) {
      log().info("--duration reached: stopping");
      worker_.schedule_shutdown();
    }
  }
  mode::Worker& worker_;
  mode::Seconds after_;
};

/// Takes `--duration N` / `--duration=N` out of the arguments. Returns false (after
/// printing why) if the value is missing or not a number of seconds.
bool take_duration(std::vector<char*>& args, std::optional<mode::Seconds>& out) {
  for (auto i = args.begin(); i != args.end(); ++i) {
    std::string_view arg{*i};
    std::string value;
    if (arg == "--duration") {
      if (std::next(i) == args.end()) {
        std::cerr << "demo: --duration needs a value (seconds)\n";
        return false;
      }
      value = *std::next(i);
      i = args.erase(i, std::next(i, 2));
    } else if (arg.starts_with("--duration=")) {
      value = arg.substr(std::strlen("--duration="));
      i = args.erase(i);
    } else {
      continue;
    }
    try {
      out = mode::Seconds{value};
    } catch (const std::invalid_argument& e) {
      std::cerr << "demo: --duration: " << e.what() << '\n';
      return false;
    }
    if (out->count() <= 0) {
      std::cerr << "demo: --duration must be > 0, got \"" << value << "\"\n";
      return false;
    }
    return take_duration(args, out);  // a later --duration wins, as with other options
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args{argv, argv + argc};
  std::optional<mode::Seconds> duration;
  if (!take_duration(args, duration))
    return 64;  // EX_USAGE, as the Worker's own option errors
  auto batches = std::make_shared<BatchSignal>("batches", "demo");
  mode::Worker worker{{std::make_shared<Reporter>(batches), make_ingest(batches)},
                      {.log_level = "info"}};
  if (duration)
    worker.add_dependency(std::make_shared<Deadline>(worker, *duration));
  return worker.execute_from_commandline(static_cast<int>(args.size()), args.data());
}

// Expected output of `demo --duration 4` (timestamps and pid vary; lines shortened):
// [...] [INFO] [^Worker]: Starting...
// [...] [INFO] [^-Deadline]: Starting...
// [...] [INFO] [^-Reporter]: Starting...
// [...] [INFO] [^-OneForOneSupervisor]: Starting...
// [...] [INFO] [^--Fetcher-1]: Starting...
// [...] [INFO] [^--Fetcher-2]: Starting...
// [...] [INFO] [^--Fetcher-3]: Starting...
// [...] [INFO] [^-Reporter]: fetched 90 items so far (3 batches from Fetcher-2)
// [...] [INFO] [^-Reporter]: fetched 180 items so far (6 batches from Fetcher-2)
// [...] [INFO] [^-Reporter]: fetched 270 items so far (9 batches from Fetcher-2)
// [...] [ERROR] [^--Fetcher-2]: Crashed reason=std::runtime_error: connection reset by peer
// [...] [INFO] [^--Fetcher-2]: Stopping...
// [...] [INFO] [^--Fetcher-2]: -Stopped!
// [...] [INFO] [^-OneForOneSupervisor]: Restarting dead Fetcher-2! Last crash reason: ...
// [...] [INFO] [^--Fetcher-2]: Starting...
// [...] [INFO] [^-Reporter]: fetched 390 items so far (13 batches from Fetcher-2)
// [...] [INFO] [^-Deadline]: --duration reached: stopping
// [...] [INFO] [^Worker]: Stopping...
// [...] (the supervisor stops the fetchers in reverse order, then Reporter, Deadline)
// [...] [INFO] [^Worker]: -Stopped!
