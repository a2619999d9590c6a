// Checking a GetAccessToken request against the configured client it names.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agentauth/v1/token_service.pb.h"
#include "server/config/config.h"

namespace agentauth {

// A request that passed every check, in the cache's terms.
struct ValidTokenRequest {
  std::vector<std::string> scopes;  // Normalized; the client's scopes when none were asked for.
  std::string audience;
  absl::Duration min_validity;
  bool force_refresh = false;
};

// Bounds on what a caller may send; a request beyond them is refused, not truncated.
inline constexpr size_t kMaxClientNameBytes = 128;
inline constexpr size_t kMaxScopes = 64;
inline constexpr size_t kMaxScopeBytes = 256;
inline constexpr size_t kMaxAudienceBytes = 2048;
inline constexpr absl::Duration kMaxMinValidity = absl::Hours(24);

// Checks the client-independent fields. INVALID_ARGUMENT naming the field and the problem.
absl::Status CheckRequestShape(const agentauth::v1::GetAccessTokenRequest& request);

// Checks `request` against `client`, which it names. INVALID_ARGUMENT naming the field: a scope
// outside the client's scopes, an audience that is not an absolute URI, a negative or too large
// min_validity.
absl::StatusOr<ValidTokenRequest> ValidateTokenRequest(
    const agentauth::v1::GetAccessTokenRequest& request, const ClientConfig& client);

}  // namespace agentauth
