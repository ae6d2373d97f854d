// mode::Bucket, TokenBucket and rate_limit: mode's rate limiting (mode/utils/times.py).
//
//   auto bucket = mode::rate_limit(10, 1.0);   // 10 tokens per second, holds 1
//   if (!bucket.pour())                         // mode: `if not bucket.pour():`
//     co_await sleep(bucket.expected_time());
//
//   co_await bucket.acquire();                  // mode: `async with bucket:`
//
// The arithmetic is mode's: a bucket made with (rate, over) holds up to `over` tokens
// (its capacity, the burst) and refills at `rate` tokens per second (its fill rate).
// So rate_limit(10, 1.0) lets one call through at once and ten per second after that.
// (For "at most N in any window of T", as a supervisor's max_restarts means, see
// mode/restart_limiter.hpp.)
//
// Time is read from the bucket's clock. By default that is the clock of the actor the
// call runs on (a service's: virtual time under CAF's test coordinator, so a test of a
// rate-limited service does not sleep), and std::chrono::steady_clock off any actor.
//
// A bucket is plain state, not synchronized (as a std::vector): use it from one
// service's actor, or guard it.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "mode/errors.hpp"
#include "mode/task.hpp"
#include "mode/times.hpp"

namespace mode {

class Service;

/// The exception for an empty bucket, for buckets made with
/// `opts.raises = mode::raises<RateLimitExceeded>()`: acquire() then throws it instead
/// of waiting. what() names the bucket's rate and capacity.
class RateLimitExceeded : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The keyword arguments of mode's Bucket, with two of mode's ignored ones honoured.
struct BucketOptions {
  /// Tokens added per second. Default: the bucket's rate. (mode accepts `fill_rate=`
  /// and ignores it; override Bucket::fill_rate() works in both.)
  std::optional<Seconds> fill_rate{};
  /// The most tokens the bucket holds. Default: `over`. (mode accepts `capacity=` and
  /// ignores it.)
  std::optional<Seconds> capacity{};
  /// When set, acquire() on an empty bucket throws what this builds instead of waiting
  /// (mode's `raises=`): `opts.raises = mode::raises<RateLimitExceeded>();`.
  RaisesFactory raises{};
  /// The clock tokens refill by. Default: the running actor's clock (virtual time
  /// under CAF's test coordinator), steady_clock off any actor.
  std::function<std::chrono::steady_clock::time_point()> clock{};
};

/// Rate limiting state (mode's abstract Bucket): pour() takes tokens if the bucket has
/// them; expected_time() says how long until it will. Derive to change the algorithm
/// (TokenBucket is mode's and the default).
class Bucket {
 public:
  using clock_type = std::chrono::steady_clock;

  /// `rate` tokens per second, up to `over` tokens held (see the top of this header).
  /// Throws std::invalid_argument naming the value if the rate, fill rate or capacity
  /// is not positive (mode would divide by zero later, or never pour).
  explicit Bucket(Seconds rate, Seconds over = 1.0, BucketOptions opts = {});
  virtual ~Bucket() = default;

  /// mode's `rate`: tokens per second, as given.
  [[nodiscard]] double rate() const noexcept { return rate_; }
  /// mode's `capacity`: the most tokens the bucket holds.
  [[nodiscard]] double capacity() const noexcept { return capacity_; }
  /// mode's `fill_rate`: tokens added per second (the rate unless set in the options).
  [[nodiscard]] virtual double fill_rate() const noexcept { return fill_rate_; }

  /// Takes `tokens` tokens if the bucket holds them now: true if it did.
  virtual bool pour(double tokens = 1.0) = 0;
  /// How long until `tokens` tokens could be poured (zero if they can now).
  [[nodiscard]] virtual seconds_f expected_time(double tokens = 1.0) = 0;
  /// The tokens the bucket holds now (refilling it up to now first).
  virtual double tokens() = 0;

  /// mode's `async with bucket:`: takes one token, waiting (on the service's clock,
  /// like Service::sleep) until there is one, or throwing what `raises` builds if the
  /// options set it. Unlike mode, the wait ends with a token taken: mode sleeps the
  /// expected time once and goes on without one, so a loop of `async with` runs about
  /// twice the rate. Await it from a service's coroutine (std::logic_error otherwise);
  /// if the service stops while it waits, it throws CancelledError (the section it
  /// guards does not run). Throws std::logic_error if the capacity is below one token
  /// (it could never take one). The bucket must outlive the await.
  task<void> acquire();

  /// The `raises` the bucket was made with (empty: acquire() waits).
  [[nodiscard]] const RaisesFactory& raises() const noexcept { return raises_; }

  /// The time now on the bucket's clock.
  [[nodiscard]] clock_type::time_point now() const;

 protected:
  Bucket(const Bucket&) = default;
  Bucket(Bucket&&) noexcept = default;
  Bucket& operator=(const Bucket&) = default;
  Bucket& operator=(Bucket&&) noexcept = default;

  /// mode's `_tokens`: the tokens held as last computed. Starts full.
  double tokens_;

 private:
  task<void> take_one(Service& svc);

  double rate_;
  double capacity_;
  double fill_rate_;
  RaisesFactory raises_;
  std::function<clock_type::time_point()> clock_;
};

/// mode's TokenBucket: tokens refill continuously at fill_rate() up to capacity().
///
/// One fix: mode leaves its refill time behind while the bucket is full, so a bucket
/// left idle and then emptied refills at once with the idle time's tokens (a burst
/// beyond its capacity). Here the refill time moves on while full.
class TokenBucket : public Bucket {
 public:
  explicit TokenBucket(Seconds rate, Seconds over = 1.0, BucketOptions opts = {});
  TokenBucket(const TokenBucket&) = default;
  TokenBucket(TokenBucket&&) noexcept = default;
  TokenBucket& operator=(const TokenBucket&) = default;
  TokenBucket& operator=(TokenBucket&&) noexcept = default;
  ~TokenBucket() override = default;

  bool pour(double tokens = 1.0) override;
  /// As mode: from the tokens held when last computed (pour() and tokens() refill it),
  /// so right after a failed pour() it is exact.
  [[nodiscard]] seconds_f expected_time(double tokens = 1.0) override;
  double tokens() override;

  /// mode's `_last_pour`: when the tokens were last refilled. A refill time later than
  /// now (mode's test sets one) leaves the tokens as they are until the clock gets there.
  clock_type::time_point last_pour;
};

/// mode's rate_limit(rate, over, bucket_type=TokenBucket, raises=...): a bucket of
/// type `B` (a Bucket constructible from (rate, over, options)).
template <class B = TokenBucket>
[[nodiscard]] B rate_limit(Seconds rate, Seconds over = 1.0, BucketOptions opts = {}) {
  static_assert(std::is_base_of_v<Bucket, B>, "mode::rate_limit: B must derive from mode::Bucket");
  return B{rate, over, std::move(opts)};
}

}  // namespace mode
