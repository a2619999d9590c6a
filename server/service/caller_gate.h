// The caller checks of the gRPC edge in one place: who is calling, may they use this client
// for this request, may they force another refresh. Every decision is counted in CallerMetrics
// and logged (caller identity, client, scopes, fingerprints; never a token): every refusal, and
// every token a caller is handed for the first time.
#pragma once

#include <grpcpp/server_context.h>

#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "server/cache/token_cache.h"
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

  // Logs a token handed to `caller`, by the token's fingerprint, the first time this caller
  // gets this token. The same token again (a cache hit) is counted by Authorize but not logged
  // again: a line per call would cost more than the call itself and bury the log, while a
  // renewed token, another caller or another client is a new line.
  void LogGrant(const ClientConfig& client, const CallerIdentity& caller,
                const TokenCache::TokenPtr& token);

 private:
  void LogRefusal(absl::string_view client, const CallerIdentity& caller,
                  const absl::Status& status, absl::string_view scopes = "");

  const CallerAuthenticator& authenticator_;
  PerCallerRateLimiter& force_refresh_limiter_;
  Logger& logger_;
  CallerMetrics& metrics_;

  // The last token logged per caller (its identities, or its host when anonymous) and client.
  // Bounded: forgotten all at once when full, which costs one more line per caller, not a
  // wrong one.
  static constexpr size_t kMaxRememberedGrants = 10'000;
  std::shared_mutex grants_mutex_;
  absl::flat_hash_map<std::string, std::weak_ptr<const CachedToken>> last_logged_grant_
      ABSL_GUARDED_BY(grants_mutex_);
};

}  // namespace agentauth
