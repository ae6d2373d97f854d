// Bucket's options and TokenBucket's arithmetic (mode/utils/times.py). The waiting
// form, acquire(), and the default clock are in actors/rate_limit.cpp.
#include "mode/rate_limit.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace mode {

namespace {

double positive(const char* what, double value) {
  if (!(value > 0.0))
    throw std::invalid_argument(
        fmt::format("mode::Bucket: the {} must be a positive number, not {}", what, value));
  return value;
}

void check_tokens(const char* call, double tokens) {
  if (!(tokens >= 0.0) || !std::isfinite(tokens))
    throw std::invalid_argument(
        fmt::format("mode::Bucket::{}: tokens must be a finite number >= 0, not {}", call, tokens));
}

}  // namespace

Bucket::Bucket(Seconds rate, Seconds over, BucketOptions opts)
    : rate_(positive("rate", want_seconds(rate))),
      capacity_(positive("capacity", want_seconds(opts.capacity.value_or(over)))),
      fill_rate_(opts.fill_rate ? positive("fill rate", want_seconds(*opts.fill_rate)) : rate_),
      raises_(std::move(opts.raises)),
      clock_(std::move(opts.clock)) {
  tokens_ = capacity_;
}

TokenBucket::TokenBucket(Seconds rate, Seconds over, BucketOptions opts)
    : Bucket(rate, over, std::move(opts)), last_pour(now()) {}

bool TokenBucket::pour(double tokens) {
  check_tokens("pour", tokens);
  if (this->tokens() < tokens)
    return false;
  tokens_ -= tokens;
  return true;
}

seconds_f TokenBucket::expected_time(double tokens) {
  check_tokens("expected_time", tokens);
  double have = tokens_;
  double need = std::max(tokens, have);
  return seconds_f{std::max((need - have) / fill_rate(), 0.0)};
}

double TokenBucket::tokens() {
  auto at = now();
  if (at < last_pour)
    return tokens_;
  if (tokens_ < capacity()) {
    auto elapsed = std::chrono::duration_cast<seconds_f>(at - last_pour).count();
    tokens_ = std::min(capacity(), tokens_ + fill_rate() * elapsed);
  }
  // mode moves this only while refilling: a full bucket would keep its idle time.
  last_pour = at;
  return tokens_;
}

}  // namespace mode
