#include "server/service/caller_gate.h"

#include <mutex>
#include <shared_mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/callers/caller_policy.h"
#include "server/common/fingerprint.h"

namespace agentauth {
namespace {

absl::string_view DecisionOf(const absl::Status& status) {
  return status.code() == absl::StatusCode::kPermissionDenied ? "denied" : "unauthenticated";
}

}  // namespace

CallerGate::CallerGate(const CallerAuthenticator& authenticator,
                       PerCallerRateLimiter& force_refresh_limiter, Logger& logger,
                       CallerMetrics& metrics)
    : authenticator_(authenticator),
      force_refresh_limiter_(force_refresh_limiter),
      logger_(logger),
      metrics_(metrics) {}

void CallerGate::LogRefusal(absl::string_view client, const CallerIdentity& caller,
                            const absl::Status& status, absl::string_view scopes) {
  metrics_.Decision(client, DecisionOf(status));
  // TODO(logging): a caller retrying a refused call in a loop logs each time; rate-limit
  // repeated refusals per caller once the logger has a repeat limiter.
  logger_.Warning("callers", "caller_refused",
                  {{"client", std::string(client)},
                   {"caller", caller.Describe()},
                   {"scopes", std::string(scopes)},
                   {"caller_token_fingerprint", caller.token_fingerprint},
                   {"code", absl::StatusCodeToString(status.code())},
                   {"cause", std::string(status.message())}});
}

absl::StatusOr<CallerIdentity> CallerGate::Identify(const grpc::ServerContextBase& context,
                                                    absl::string_view client_label) {
  absl::StatusOr<CallerIdentity> caller = authenticator_.Authenticate(context);
  if (caller.ok()) return caller;

  CallerIdentity unknown;
  unknown.peer_host = context.peer();
  // The fingerprint of the rejected token lets an operator match it with the caller's logs.
  const auto& metadata = context.client_metadata();
  if (const auto found = metadata.find("authorization"); found != metadata.end()) {
    absl::string_view header(found->second.data(), found->second.size());
    unknown.token_fingerprint = Fingerprint(header.substr(std::min<size_t>(7, header.size())));
  }
  if (caller.status().code() == absl::StatusCode::kUnauthenticated) {
    LogRefusal(client_label, unknown, caller.status());
  }
  return caller.status();
}

absl::Status CallerGate::CheckMayUse(const ClientConfig& client, const CallerIdentity& caller) {
  if (CallerMayUseClient(client, caller)) return absl::OkStatus();
  absl::Status refused = AuthorizeTokenRequest(client, caller, {}, "");
  if (refused.ok()) {
    refused = absl::PermissionDeniedError(
        absl::StrCat("caller ", caller.Describe(), " may not use client \"", client.name, "\""));
  }
  LogRefusal(client.name, caller, refused);
  return refused;
}

absl::Status CallerGate::Authorize(const ClientConfig& client, const CallerIdentity& caller,
                                   const std::vector<std::string>& scopes,
                                   const std::string& audience) {
  absl::Status decision = AuthorizeTokenRequest(client, caller, scopes, audience);
  if (!decision.ok()) {
    LogRefusal(client.name, caller, decision, absl::StrJoin(scopes, " "));
    return decision;
  }
  metrics_.Decision(client.name, "granted");
  return absl::OkStatus();
}

absl::Status CallerGate::CheckForceRefresh(const ClientConfig& client,
                                           const CallerIdentity& caller) {
  const std::optional<absl::Duration> wait =
      force_refresh_limiter_.TryAcquire(caller.RateLimitKey());
  if (!wait) return absl::OkStatus();

  metrics_.ForceRefreshLimited(client.name);
  const absl::Duration retry_after = absl::Ceil(*wait, absl::Seconds(1));
  return absl::ResourceExhaustedError(
      absl::StrCat("caller ", caller.Describe(), " forced refreshes of client \"", client.name,
                   "\" too often; retry force_refresh in ", absl::FormatDuration(retry_after),
                   ", or ask without force_refresh for the cached token"));
}

void CallerGate::LogGrant(const ClientConfig& client, const CallerIdentity& caller,
                          const TokenCache::TokenPtr& token) {
  // The same control block is the very token logged before: the weak_ptr keeps that block
  // allocated, so a new token can never reuse its address and hide a grant.
  auto same_token = [&token](const std::weak_ptr<const CachedToken>& logged) {
    return !logged.owner_before(token) && !token.owner_before(logged);
  };
  std::string key = absl::StrCat(
      caller.identities.empty() ? caller.peer_host : absl::StrJoin(caller.identities, ","), "\x1f",
      client.name);
  {
    std::shared_lock<std::shared_mutex> lock(grants_mutex_);
    const auto found = last_logged_grant_.find(key);
    if (found != last_logged_grant_.end() && same_token(found->second)) return;
  }
  {
    std::unique_lock<std::shared_mutex> lock(grants_mutex_);
    if (last_logged_grant_.size() >= kMaxRememberedGrants) last_logged_grant_.clear();
    std::weak_ptr<const CachedToken>& logged = last_logged_grant_[std::move(key)];
    if (same_token(logged)) return;  // Another call logged it in between.
    logged = token;
  }

  logger_.Info("callers", "token_granted",
               {{"client", client.name},
                {"caller", caller.Describe()},
                {"scopes", absl::StrJoin(token->scopes, " ")},
                {"caller_token_fingerprint", caller.token_fingerprint},
                {"token_fingerprint", Fingerprint(token->access_token)}});
}

}  // namespace agentauth
