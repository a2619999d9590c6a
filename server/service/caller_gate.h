// The caller checks of the gRPC edge in one place: who is calling, may they use this client
// for this request, may they force another refresh. Every decision is logged (caller identity,
// client, scopes, fingerprints; never a token) and counted in CallerMetrics.
#pragma once

#include <grpcpp/server_context.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/callers/caller_authenticator.h"
#include "server/callers/caller_identity.h"
#include "server/callers/rate_limiter.h"
#include "server/common/logging.h"
#include "server/config/config.h"
#include "server/metrics/caller_metrics.h"

namespace agentauth {

// Thread-safe. Borrows everything, which must outlive it.
class CallerGate {
 public:
  CallerGate(const CallerAuthenticator& authenticator, PerCallerRateLimiter& force_refresh_limiter,
             Logger& logger, CallerMetrics& metrics);

  // The caller of `context`. An invalid bearer token is UNAUTHENTICATED (logged and counted
  // under `client_label`, the configured client asked for or "unknown").
  absl::StatusOr<CallerIdentity> Identify(const grpc::ServerContextBase& context,
                                          absl::string_view client_label);

  // OK when `caller` may use `client` at all (GetStatus, and before a request is examined,
  // so that a refused caller learns nothing of the client's scopes). Logs and counts refusals.
  absl::Status CheckMayUse(const ClientConfig& client, const CallerIdentity& caller);

  // OK when `caller` may ask `client` for `scopes` and `audience`. Counts the decision and logs
  // a refusal; a grant is logged by LogGrant once the token is handed out.
  absl::Status Authorize(const ClientConfig& client, const CallerIdentity& caller,
                         const std::vector<std::string>& scopes, const std::string& audience);

  // OK when `caller` may force another refresh now; RESOURCE_EXHAUSTED saying when to retry.
  absl::Status CheckForceRefresh(const ClientConfig& client, const CallerIdentity& caller);

  // Logs a token handed to `caller`, by the token's fingerprint.
  void LogGrant(const ClientConfig& client, const CallerIdentity& caller,
                const std::vector<std::string>& scopes, const std::string& access_token);

 private:
  void LogRefusal(absl::string_view client, const CallerIdentity& caller,
                  const absl::Status& status, absl::string_view scopes = "");

  const CallerAuthenticator& authenticator_;
  PerCallerRateLimiter& force_refresh_limiter_;
  Logger& logger_;
  CallerMetrics& metrics_;
};

}  // namespace agentauth
