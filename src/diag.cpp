// Diag: a service's flags, kept in one sorted vector (a service has a handful).
#include "mode/diag.hpp"

#include <algorithm>

namespace mode {

namespace {

template <class Entries>
auto find_flag(Entries& entries, std::string_view flag) {
  auto i = std::lower_bound(entries.begin(), entries.end(), flag,
                            [](const auto& e, std::string_view f) { return e.flag < f; });
  return i != entries.end() && i->flag == flag ? i : entries.end();
}

}  // namespace

Diag::entry& Diag::at(std::string_view flag) {
  auto i = std::lower_bound(entries_.begin(), entries_.end(), flag,
                            [](const entry& e, std::string_view f) { return e.flag < f; });
  if (i == entries_.end() || i->flag != flag)
    i = entries_.insert(i, entry{std::string{flag}, {}, false});
  return *i;
}

void Diag::set_flag(std::string_view flag) {
  auto& e = at(flag);
  e.set = true;
  e.last_transition = clock::now();
}

void Diag::unset_flag(std::string_view flag) {
  // mode's unset_flag only discards the flag: last_transition keeps the time it was set.
  if (auto i = find_flag(entries_, flag); i != entries_.end())
    i->set = false;
}

bool Diag::has_flag(std::string_view flag) const {
  auto i = find_flag(entries_, flag);
  return i != entries_.end() && i->set;
}

std::vector<std::string> Diag::flags() const {
  std::vector<std::string> result;
  for (const auto& e : entries_)
    if (e.set)
      result.push_back(e.flag);
  return result;
}

std::optional<Diag::clock::time_point> Diag::last_transition(std::string_view flag) const {
  if (auto i = find_flag(entries_, flag); i != entries_.end())
    return i->last_transition;
  return std::nullopt;
}

}  // namespace mode
