// The errors a caller of mode-cpp can catch apart: a call that timed out, a service
// that crashed, a request to a service that is not running, a request the other side
// answered with an error. Each is a std::runtime_error whose what() names the call;
// describe_exception prints any exception the way mode-cpp's logs and chains do.
#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>

namespace mode {

/// A call did not get its answer in time: a blocking ServiceHandle call, or a request
/// (`co_await request(...)`, `ServiceHandle::request`). mode's (asyncio's) TimeoutError.
/// what(): `mode: <call> timed out after <timeout>`.
class TimeoutError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The reason a service crashed, when the reason came from another service: a chain
/// that prints `Parent <- Child <- std::runtime_error: what` (innermost last). Thrown by
/// a blocking start/restart whose service crashed, and by requests to a service whose
/// actor exited with a crash.
class ServiceCrashed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A request reached a service that does not handle messages now: not started yet,
/// stopping, stopped, or crashed. what() names the service and its state.
class ServiceNotRunning : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A request was answered with an error: the handler threw (what() carries its
/// description, `std::invalid_argument: bad key`), the receiver does not handle that
/// message, or CAF reported an error of its own (the text of the caf::error).
class RequestError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Builds the exception a limit fails with (mode's `raises=` argument), from the message
/// the default exception would carry: a supervisor's restart limit (MaxRestartsExceeded
/// by default), a rate limit's Bucket (RateLimitExceeded).
using RaisesFactory = std::function<std::exception_ptr(const std::string& message)>;

/// A RaisesFactory making an `E{message}`: `opts.raises = mode::raises<MyError>();`.
template <class E>
RaisesFactory raises() {
  return [](const std::string& message) {
    return std::make_exception_ptr(E{message});
  };
}

/// Renders an exception as `<demangled type>: <what()>`; a ServiceCrashed as its chain.
std::string describe_exception(const std::exception_ptr& error);

}  // namespace mode
