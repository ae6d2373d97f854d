// mode::Diag: mode's Service.Diag, the flags that say what a service is doing.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mode {

/// mode's Service.Diag: flags that say what a service is doing, with the time of
/// each flag's last transition.
class Diag {
 public:
  using clock = std::chrono::steady_clock;
  /// Adds `flag` and records the time.
  void set_flag(std::string_view flag);
  /// Removes `flag` (its last_transition stays: the time it was last set, as in mode).
  void unset_flag(std::string_view flag);
  /// True while `flag` is set.
  [[nodiscard]] bool has_flag(std::string_view flag) const;
  /// The flags set now, sorted.
  [[nodiscard]] std::vector<std::string> flags() const;
  /// When `flag` was last set, if ever (mode's last_transition[flag]).
  [[nodiscard]] std::optional<clock::time_point> last_transition(std::string_view flag) const;

 private:
  struct entry {
    std::string flag;
    clock::time_point last_transition;
    bool set = false;
  };
  entry& at(std::string_view flag);
  /// Every flag ever set, sorted: a service has a handful, and one vector costs each
  /// service less than a set and a map.
  std::vector<entry> entries_;
};

}  // namespace mode
