// Metrics of one prometheus-cpp family looked up by a key of their label values, without the
// family's own lookup. Family::Add builds a std::map of the labels, hashes it and takes the
// family's lock on every call, about a microsecond each; on the hot path of GetAccessToken that
// was most of agentauth's own cost per call (measured with tests/bench, docs/benchmarks.md). A
// reader lock and one hash of a short key cost a few tens of nanoseconds.
#pragma once

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

}  // namespace agentauth
