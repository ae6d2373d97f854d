// Services and plain CAF actors in one program, on your own caf::actor_system.
//
// - `Store` is a Service with message handlers (get, put), held by a
//   OneForOneSupervisor. A `get` of a missing key throws: the requester gets a
//   RequestError, the Store keeps running.
// - `clock` is a plain CAF actor: it answers `tick` with a counter.
// - `Client` is a Service whose task asks the clock (co_await mode::request to a plain
//   actor), stores the tick in the Store (co_await mode::request to a service), and
//   crashes the Store once on purpose: the supervisor restarts it (empty again).
// - `auditor` is a plain CAF actor that reads the Store with CAF's own typed request.
// - A Worker runs the services on the program's own actor system, one after another in
//   the order given: the supervisor (and with it the Store) is running before the Client
//   starts. The Client asks the Worker to shut down when done.
//
// Expected output (stdout; log lines go to stderr):
//   client: tick 1 stored
//   client: tick 2 stored
//   client: get missing: Store <- std::out_of_range: no key 'missing'
//   client: tick 3 stored
//   auditor: last = 3
//   client: crashing the store
//   client: after the restart: Store <- std::out_of_range: no key 'last'
//   exit status 0
// (tests/CMakeLists.txt runs it and checks these lines.)
#include <mode/mode.hpp>
#include <mode/request.hpp>

#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;

namespace {

using get_atom = caf::atom_constant<caf::atom("get")>;
using put_atom = caf::atom_constant<caf::atom("put")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using audit_atom = caf::atom_constant<caf::atom("audit")>;
using boom_atom = caf::atom_constant<caf::atom("boom")>;

/// What the Store answers, for CAF's compile-time checked requests.
using store_actor = caf::typed_actor<caf::replies_to<get_atom, std::string>::with<int>,
                                     caf::replies_to<put_atom, std::string, int>::with<int>>;

class Store : public mode::Service {
 public:
  Store() {
    add_handler(&Store::get);
    add_handler(&Store::put);
    add_handler([this](boom_atom) { crash("asked to crash"); });
  }

 private:
  // A restart keeps the object (as in mode): a fresh start empties the store.
  mode::task<void> on_start() override {
    values_.clear();
    co_return;
  }
  int get(get_atom, const std::string& key) {
    auto i = values_.find(key);
    if (i == values_.end())
      throw std::out_of_range("no key '" + key + "'");
    return i->second;
  }
  int put(put_atom, const std::string& key, int value) {
    values_[key] = value;
    return static_cast<int>(values_.size());
  }
  std::map<std::string, int> values_;
};

caf::behavior clock_actor(caf::event_based_actor*, int first) {
  auto ticks = std::make_shared<int>(first - 1);
  return {[ticks](tick_atom) {
    return ++*ticks;
  }};
}

/// Reads the Store with CAF's own typed request: a message the Store does not declare
/// in store_actor would not compile.
caf::behavior auditor(caf::event_based_actor* self, caf::timespan timeout) {
  return {[self, timeout](audit_atom, store_actor store) -> caf::result<int> {
    auto rp = self->make_response_promise<int>();
    self->request(store, timeout, get_atom::value, std::string{"last"})
        .then([rp](int last) mutable { rp.deliver(last); },
              [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
    return rp;
  }};
}

/// The part of an error text from the service's name on ("Store <- ...").
std::string from(const std::string& text, const std::string& name) {
  auto at = text.find(name);
  return at == std::string::npos ? text : text.substr(at);
}

class Client : public mode::Service {
 public:
  Client(std::shared_ptr<Store> store, caf::actor clock, caf::actor auditor)
      : store_(std::move(store)), clock_(std::move(clock)), auditor_(std::move(auditor)) {
    add_task(&Client::run, "Client.run");
  }

  /// The Worker to shut down once the run is over (set before the Worker runs).
  void shut_down_when_done(mode::Worker& worker) { worker_ = &worker; }

 private:
  mode::task<void> tick_and_store() {
    int tick = co_await mode::request<int>(clock_, 5s, tick_atom::value);
    co_await mode::request<int>(store_, 5s, put_atom::value, std::string{"last"}, tick);
    std::printf("client: tick %d stored\n", tick);
  }

  mode::task<void> run() {
    co_await tick_and_store();
    co_await tick_and_store();
    try {
      co_await mode::request<int>(store_, 5s, get_atom::value, std::string{"missing"});
    } catch (const mode::RequestError& e) {
      std::printf("client: get missing: %s\n", from(e.what(), "Store").c_str());
    }
    co_await tick_and_store();
    auto typed = caf::actor_cast<store_actor>(mode::actor_of(*store_));
    int audited = co_await mode::request<int>(auditor_, 5s, audit_atom::value, typed);
    std::printf("auditor: last = %d\n", audited);
    std::printf("client: crashing the store\n");
    co_await mode::request(store_, 5s, boom_atom::value);
    // The supervisor restarts it on a fresh actor: ask until the new one answers.
    for (bool answered = false; !answered;) {
      co_await sleep(20ms);
      try {
        int last = co_await mode::request<int>(store_, 5s, get_atom::value, std::string{"last"});
        std::printf("client: after the restart: last = %d\n", last);
        answered = true;
      } catch (const mode::RequestError& e) {
        std::printf("client: after the restart: %s\n", from(e.what(), "Store").c_str());
        answered = true;
      } catch (const mode::ServiceNotRunning&) {
        // not restarted yet
      }
    }
    std::fflush(stdout);
    if (worker_ != nullptr)
      worker_->schedule_shutdown();
  }

  std::shared_ptr<Store> store_;
  caf::actor clock_;
  caf::actor auditor_;
  mode::Worker* worker_ = nullptr;
};

}  // namespace

int main() {
  mode::WorkerSignals signals;  // before the actor system: its threads inherit the mask
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  // (Spawned with arguments: CAF 0.17.6 spawns a function without any through a null
  // pointer, which UBSan reports.)
  auto clock = sys.spawn(clock_actor, 1);
  auto audit = sys.spawn(auditor, caf::timespan{std::chrono::seconds{5}});
  auto store = std::make_shared<Store>();
  auto sup = std::make_shared<mode::OneForOneSupervisor>();
  sup->add(store);
  auto client = std::make_shared<Client>(store, clock, audit);
  // In this order: the Client's first request needs the Store's actor. (add_dependency
  // before the start would put the Client first: a Worker's own services come after.)
  mode::Worker worker{{sup, client}};
  client->shut_down_when_done(worker);
  int status = worker.execute_from_commandline(sys);
  std::printf("exit status %d\n", status);
  caf::anon_send_exit(clock, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(audit, caf::exit_reason::user_shutdown);
  return status;
}
