// Metrics of one prometheus-cpp family looked up by a key of their label values, without the
// family's own lookup. Family::Add builds a std::map of the labels, hashes it and takes the
// family's lock on every call, about a microsecond each; on the hot path of GetAccessToken that
// was most of agentauth's own cost per call (measured with tests/bench, docs/benchmarks.md). A
// reader lock and one hash of a short key cost a few tens of nanoseconds.
#pragma once

#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace agentauth {

// Thread-safe. The metrics must live as long as this (prometheus-cpp keeps them until they are
// removed from their family, which agentauth never does).
template <typename Metric>
class ResolvedMetrics {
 public:
  // The metric for `key`; on the first call for a key, the one `make()` returns (a Family::Add,
  // which gives the same metric for the same labels, so a race between two first calls is
  // harmless). `key` must identify the label values, e.g. joined with a byte no label holds.
  template <typename Make>
  Metric& Get(absl::string_view key, Make make) {
    {
      std::shared_lock<std::shared_mutex> lock(mutex_);
      if (const auto found = metrics_.find(key); found != metrics_.end()) return *found->second;
    }
    Metric& metric = make();
    std::unique_lock<std::shared_mutex> lock(mutex_);
    metrics_.try_emplace(std::string(key), &metric);
    return metric;
  }

 private:
  std::shared_mutex mutex_;
  absl::flat_hash_map<std::string, Metric*> metrics_ ABSL_GUARDED_BY(mutex_);
};

// A key of ResolvedMetrics: label values joined with a control character, which no method name,
// status code, result, decision or client name (A-Za-z0-9._-) holds. Built on the stack: the hot
// path makes two per call, and a heap allocation each would be a good share of what they save.
class ResolvedMetricKey {
 public:
  explicit ResolvedMetricKey(absl::string_view a, absl::string_view b = "",
                             absl::string_view c = "") {
    const size_t size = a.size() + b.size() + c.size() + 2;
    char* out = size <= sizeof(inline_) ? inline_ : (heap_.resize(size), heap_.data());
    for (absl::string_view part : {a, absl::string_view("\x1f"), b, absl::string_view("\x1f"), c}) {
      std::memcpy(out, part.data(), part.size());
      out += part.size();
    }
    view_ = absl::string_view(size <= sizeof(inline_) ? inline_ : heap_.data(), size);
  }
  ResolvedMetricKey(const ResolvedMetricKey&) = delete;
  ResolvedMetricKey& operator=(const ResolvedMetricKey&) = delete;

  absl::string_view view() const { return view_; }

 private:
  char inline_[160];
  std::string heap_;
  absl::string_view view_;
};

}  // namespace agentauth
