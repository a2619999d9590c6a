#include "server/callers/rate_limiter.h"

#include <algorithm>

namespace agentauth {

PerCallerRateLimiter::PerCallerRateLimiter(int burst, absl::Duration per, const Clock& clock,
                                           size_t max_keys)
    : burst_(std::max(1, burst)),
      per_(per),
      clock_(clock),
      max_keys_(std::max<size_t>(1, max_keys)) {}

double PerCallerRateLimiter::Refilled(const Bucket& bucket, absl::Time now) const {
  const double elapsed = std::max(0.0, absl::FDivDuration(now - bucket.updated, per_));
  return std::min(burst_, bucket.permits + elapsed * burst_);
}

void PerCallerRateLimiter::MakeRoom(absl::Time now) {
  absl::erase_if(buckets_,
                 [&](const auto& entry) { return Refilled(entry.second, now) >= burst_; });
  if (buckets_.size() >= max_keys_) buckets_.erase(buckets_.begin());
}

std::optional<absl::Duration> PerCallerRateLimiter::TryAcquire(const std::string& key) {
  const absl::Time now = clock_.Now();
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = buckets_.find(key);
  if (found == buckets_.end()) {
    if (buckets_.size() >= max_keys_) MakeRoom(now);
    found = buckets_.emplace(key, Bucket{burst_, now}).first;
  }
  Bucket& bucket = found->second;
  bucket.permits = Refilled(bucket, now);
  bucket.updated = now;
  if (bucket.permits >= 1.0) {
    bucket.permits -= 1.0;
    return std::nullopt;
  }
  return per_ * ((1.0 - bucket.permits) / burst_);
}

size_t PerCallerRateLimiter::TrackedKeys() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return buckets_.size();
}

}  // namespace agentauth
