// The caller side's Prometheus metrics, registered on the daemon's registry (Metrics). Labels
// are bounded: a configured client name (or "unknown"), a fixed decision word; never a caller
// identity, which an attacker could vary without end.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include "absl/strings/string_view.h"
#include "server/metrics/resolved_metrics.h"

namespace agentauth {

// Thread-safe.
class CallerMetrics {
 public:
  explicit CallerMetrics(prometheus::Registry& registry);

  // One caller decision for `client`: "granted", "denied" (PERMISSION_DENIED) or
  // "unauthenticated" (no or an invalid identity).
  void Decision(absl::string_view client, absl::string_view decision);
  // A force_refresh refused because the caller used up its allowance.
  void ForceRefreshLimited(absl::string_view client);
  // A failed fetch of the service account verification keys (the last good set stays).
  void JwksFetchFailed();

 private:
  prometheus::Family<prometheus::Counter>& decisions_;
  // Every GetAccessToken counts a decision: looked up without the family's own lookup.
  ResolvedMetrics<prometheus::Counter> decisions_by_labels_;
  prometheus::Family<prometheus::Counter>& force_refresh_limited_;
  prometheus::Counter& jwks_fetch_failures_;
};

}  // namespace agentauth
