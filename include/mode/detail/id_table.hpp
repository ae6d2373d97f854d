// A table of values keyed by ids that only grow: the coroutine host's tasks and waits.
//
// Every service keeps two such tables, and most of the time they hold nothing or one
// entry. A hash map keeps its bucket array once it was used (about 100 bytes per table
// and service, for good); this keeps its entries in one sorted vector and frees it once
// empty. Ids come in increasing order, so an insert is an append; a lookup is a binary
// search; an erase leaves a hole that is compacted once holes outnumber entries, so a
// table of n entries never costs more than O(n) to empty, in any order.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <utility>
#include <vector>

namespace mode::detail {

/// Values of type T (a pointer or a unique_ptr: its empty value marks a hole) by id.
template <class T>
class id_table {
 public:
  /// Adds `value` (not empty) under `id`, which must exceed every id added before.
  void insert(std::uint64_t id, T value) {
    if (!entries_.empty() && id <= entries_.back().id)
      throw std::logic_error("mode: id_table ids must increase");
    entries_.push_back(entry{id, std::move(value)});
    ++live_;
  }

  /// The value under `id`, or nullptr if there is none.
  [[nodiscard]] T* find(std::uint64_t id) noexcept {
    auto i = locate(id);
    return i != entries_.end() && i->value ? &i->value : nullptr;
  }
  [[nodiscard]] const T* find(std::uint64_t id) const noexcept {
    return const_cast<id_table*>(this)->find(id);
  }

  /// Removes the value under `id` and returns it (empty if there was none).
  T take(std::uint64_t id) {
    auto i = locate(id);
    if (i == entries_.end() || !i->value)
      return T{};
    T value = std::move(i->value);
    i->value = T{};
    --live_;
    if (live_ == 0)
      std::vector<entry>{}.swap(entries_);  // an idle service keeps no table
    else if (entries_.size() >= 2 * live_ + 8)
      std::erase_if(entries_, [](const entry& e) { return !e.value; });
    return value;
  }

  /// Number of values.
  [[nodiscard]] std::size_t size() const noexcept { return live_; }
  [[nodiscard]] bool empty() const noexcept { return live_ == 0; }

  /// The ids of every value, in increasing order (a copy: the caller may change the
  /// table while it walks them).
  template <class Pred>
  [[nodiscard]] std::vector<std::uint64_t> ids_where(Pred pred) const {
    std::vector<std::uint64_t> ids;
    for (const auto& e : entries_)
      if (e.value && pred(e.value))
        ids.push_back(e.id);
    return ids;
  }

  /// Calls `fn(id, value)` for every value, in increasing id order; `fn` must not
  /// change the table.
  template <class Fn>
  void for_each(Fn fn) const {
    for (const auto& e : entries_)
      if (e.value)
        fn(e.id, e.value);
  }

  /// The value with the highest id, removed (empty if the table is empty).
  T take_last() {
    while (!entries_.empty() && !entries_.back().value)
      entries_.pop_back();
    if (entries_.empty())
      return T{};
    return take(entries_.back().id);
  }

  /// Removes everything.
  void clear() noexcept {
    std::vector<entry>{}.swap(entries_);
    live_ = 0;
  }

 private:
  struct entry {
    std::uint64_t id;
    T value;
  };

  typename std::vector<entry>::iterator locate(std::uint64_t id) noexcept {
    auto i = std::lower_bound(entries_.begin(), entries_.end(), id,
                              [](const entry& e, std::uint64_t key) { return e.id < key; });
    return i != entries_.end() && i->id == id ? i : entries_.end();
  }

  std::vector<entry> entries_;
  std::size_t live_ = 0;
};

}  // namespace mode::detail
