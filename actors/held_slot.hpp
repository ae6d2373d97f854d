// A supervisor's slot as other threads see it: the service object it holds now. A
// ServiceHandle on a held service names the slot, so it follows factories and
// replacements onto fresh objects (and their fresh actors).
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "mode/errors.hpp"
#include "mode/service.hpp"
#include "mode/service_handle.hpp"

namespace mode::detail {

class held_slot {
 public:
  explicit held_slot(std::shared_ptr<Service> service) : service_(std::move(service)) {}

  /// The object in the slot now. Throws ServiceNotRunning once the slot is gone,
  /// naming `label` (the handle's) and why.
  [[nodiscard]] std::shared_ptr<Service> current(const std::string& label) const {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!gone_.empty())
      throw ServiceNotRunning("mode: " + label + " " + gone_);
    return service_;
  }

  /// The slot holds `service` now (a factory's or a replacement's object, an insert).
  void replace(std::shared_ptr<Service> service) {
    std::lock_guard<std::mutex> guard{mtx_};
    service_ = std::move(service);
  }

  /// The slot is no more: every later current() throws, saying `why`.
  void close(std::string why) noexcept {
    std::lock_guard<std::mutex> guard{mtx_};
    if (gone_.empty())
      gone_ = std::move(why);
    service_ = nullptr;
  }

 private:
  mutable std::mutex mtx_;
  std::shared_ptr<Service> service_;
  std::string gone_;  // empty while the slot exists
};

/// Makes attached handles (see mode::handle_of): service_handle.cpp defines it.
struct handle_access {
  static ServiceHandle attach(std::shared_ptr<Service> svc, std::shared_ptr<held_slot> slot);
};

}  // namespace mode::detail
