// agentauth's Prometheus metrics: every family is created here, in one place, and components
// record through the typed methods below. Names follow Prometheus conventions (base units,
// _total, _seconds); labels are bounded: a configured client name at most, never a caller, a
// scope string or a token. README.md ("Operating") lists them.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "server/metrics/resolved_metrics.h"

namespace agentauth {

// Thread-safe.
class Metrics {
 public:
  explicit Metrics(const std::string& version);

  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

  // gRPC server metrics, named and labelled as go-grpc-prometheus and existing dashboards do.
  void RpcStarted(absl::string_view method);
  void RpcHandled(absl::string_view method, absl::string_view code, double seconds);

  // GetAccessToken by result: "hit", "miss" (waited for a fetch) or "error", and the status
  // code the caller got ("OK", "UNAVAILABLE", ...).
  void TokenRequest(absl::string_view client, absl::string_view result,
                    absl::string_view code = "OK");
  void WaitersChanged(absl::string_view client, double delta);

  // One provider request: kind "discovery" or "token"; outcome "success", "oauth_error",
  // "http_4xx", "http_5xx", "network_error", "timeout" or "invalid_response".
  void ProviderRequest(absl::string_view client, absl::string_view kind, absl::string_view outcome,
                       double seconds);
  // `error` is mapped onto the registered OAuth codes; anything else counts as "other", so a
  // provider cannot grow the label set.
  void OAuthError(absl::string_view client, absl::string_view error);
  void Retry(absl::string_view client);
  void Throttled(absl::string_view client);

  void ConfigReload(bool success);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& rpc_started_;
  prometheus::Family<prometheus::Counter>& rpc_handled_;
  prometheus::Family<prometheus::Histogram>& rpc_seconds_;
  prometheus::Family<prometheus::Counter>& token_requests_;
  prometheus::Family<prometheus::Gauge>& waiters_;
  prometheus::Family<prometheus::Counter>& provider_requests_;
  prometheus::Family<prometheus::Counter>& oauth_errors_;
  prometheus::Family<prometheus::Histogram>& provider_seconds_;
  prometheus::Family<prometheus::Counter>& retries_;
  prometheus::Family<prometheus::Counter>& throttled_;
  prometheus::Family<prometheus::Counter>& config_reloads_;

  // What the per-call methods record into, resolved once per label set.
  ResolvedMetrics<prometheus::Counter> rpc_started_by_method_;
  ResolvedMetrics<prometheus::Counter> rpc_handled_by_method_code_;
  ResolvedMetrics<prometheus::Histogram> rpc_seconds_by_method_;
  ResolvedMetrics<prometheus::Counter> token_requests_by_labels_;
  ResolvedMetrics<prometheus::Gauge> waiters_by_client_;
};

}  // namespace agentauth
