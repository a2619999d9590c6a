// When a cached token is renewed and how failed fetches are retried. Plain data: the config
// fills it per client, the cache follows it.
#pragma once

#include "absl/time/time.h"

namespace agentauth {

struct RetryPolicy {
  // Full-jitter exponential backoff after a transient failure: the n-th consecutive failure
  // waits a random time up to min(cap, base * 2^(n-1)), and at least base / 10.
  absl::Duration base = absl::Seconds(1);
  absl::Duration cap = absl::Seconds(60);
  // Consecutive failures after which background retries stop while no valid token is held;
  // the next caller starts them again. While a valid token is held they never stop.
  int max_attempts = 10;
  // A provider's Retry-After is honoured up to this long.
  absl::Duration max_retry_after = absl::Minutes(5);

  bool operator==(const RetryPolicy&) const = default;
};

struct RefreshPolicy {
  // Share of a token's lifetime after which it is renewed in the background (0.1 to 0.95).
  double refresh_at = 0.75;
  // Renewal happens up to this share of the lifetime earlier, at random, so that replicas and
  // clients do not all ask the provider at the same moment.
  double jitter = 0.05;
  RetryPolicy retry;
  // How long a definitive rejection (invalid_client, invalid_scope, ...) is answered from
  // memory instead of asking the provider again.
  absl::Duration negative_cache_ttl = absl::Seconds(10);

  bool operator==(const RefreshPolicy&) const = default;
};

}  // namespace agentauth
