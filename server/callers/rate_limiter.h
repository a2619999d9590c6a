// A token bucket per caller: how often one caller may force a refresh (a provider request).
#pragma once

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "server/common/clock.h"

namespace agentauth {

// Each key may take `burst` permits at once, refilled evenly over `per`. Remembers at most
// `max_keys` keys: when full, keys whose bucket is full again are forgotten first (they are
// indistinguishable from new ones), then arbitrary ones, which only errs on the generous side.
//
// Thread-safe. `clock` must outlive it.
class PerCallerRateLimiter {
 public:
  PerCallerRateLimiter(int burst, absl::Duration per, const Clock& clock, size_t max_keys = 10000);

  // Takes one permit of `key`. nullopt when granted, else how long until one is available.
  std::optional<absl::Duration> TryAcquire(const std::string& key);

  size_t TrackedKeys() const;

 private:
  struct Bucket {
    double permits = 0;
    absl::Time updated;
  };

  double Refilled(const Bucket& bucket, absl::Time now) const;
  void MakeRoom(absl::Time now);

  const double burst_;
  const absl::Duration per_;
  const Clock& clock_;
  const size_t max_keys_;
  mutable std::mutex mutex_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace agentauth
