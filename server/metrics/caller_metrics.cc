#include "server/metrics/caller_metrics.h"

#include <string>

namespace agentauth {

CallerMetrics::CallerMetrics(prometheus::Registry& registry)
    : decisions_(prometheus::BuildCounter()
                     .Name("agentauth_caller_decisions_total")
                     .Help("Caller authorization decisions by client: granted, denied or "
                           "unauthenticated.")
                     .Register(registry)),
      force_refresh_limited_(prometheus::BuildCounter()
                                 .Name("agentauth_force_refresh_limited_total")
                                 .Help("force_refresh requests refused by the per-caller limit.")
                                 .Register(registry)),
      jwks_fetch_failures_(prometheus::BuildCounter()
                               .Name("agentauth_jwks_fetch_failures_total")
                               .Help("Failed fetches of the keys that verify service account "
                                     "tokens.")
                               .Register(registry)
                               .Add({})) {}

void CallerMetrics::Decision(absl::string_view client, absl::string_view decision) {
  decisions_by_labels_
      .Get(ResolvedMetricKey(client, decision).view(),
           [&]() -> prometheus::Counter& {
             return decisions_.Add(
                 {{"client", std::string(client)}, {"decision", std::string(decision)}});
           })
      .Increment();
}

void CallerMetrics::ForceRefreshLimited(absl::string_view client) {
  force_refresh_limited_.Add({{"client", std::string(client)}}).Increment();
}

void CallerMetrics::JwksFetchFailed() { jwks_fetch_failures_.Increment(); }

}  // namespace agentauth
