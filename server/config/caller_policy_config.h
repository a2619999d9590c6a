// The caller side of the config: who may call ("caller_auth", per client "allowed_callers")
// and how much ("limits").
//
//   "caller_auth": {"kubernetes": {"issuer": "https://kubernetes.default.svc.cluster.local",
//                                  "audience": "agentauth", "jwks_file":
//                                  "/etc/agentauth/jwks.json"}},
//   "limits": {"max_request_bytes": 32768, "force_refresh": {"per_caller": 6, "per": "1m"}},
//   "clients": [{"name": "reports", ...,
//                "allowed_callers": ["serviceaccount:reports/*",
//                                    {"caller": "spiffe://example.org/ns/batch/*",
//                                     "scopes": ["itwin-platform"]}]}]
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace agentauth {

// One entry of a client's "allowed_callers".
struct CallerRule {
  // An identity pattern: "spiffe://td/ns/*", "dns:*.example.org", "cn:reports",
  // "serviceaccount:<namespace>/<name>", "uid:1000", "gid:*". `*` matches any run of characters
  // except '/'.
  std::string pattern{};
  // When set, a caller matched by this entry may ask only for these scopes (a subset of the
  // client's): a request without scopes counts as asking for all of the client's.
  std::optional<std::vector<std::string>> scopes{};
  // When set, a caller matched by this entry must name one of these audiences.
  std::optional<std::vector<std::string>> audiences{};

  bool operator==(const CallerRule&) const = default;
};

// Verifying Kubernetes service account tokens presented as `authorization: Bearer <jwt>`.
struct KubernetesCallerAuth {
  // The token's `iss` must equal it exactly.
  std::string issuer;
  // The token's `aud` must contain it.
  std::string audience;
  // Where the verification keys come from: a JWKS file, a JWKS URL, or neither, then
  // <issuer>/.well-known/openid-configuration names it.
  std::string jwks_file;
  std::string jwks_uri;
  // PEM bundle to verify the JWKS server with; empty: the system's CAs.
  std::string ca_file;
  // A token sent to the discovery and JWKS endpoints (the API server wants one); empty: none.
  std::string bearer_token_file;
  // Clock skew allowed on exp and nbf.
  absl::Duration leeway = absl::Seconds(30);
  // How often the keys are fetched again.
  absl::Duration jwks_refresh = absl::Minutes(10);

  bool operator==(const KubernetesCallerAuth&) const = default;
};

struct CallerAuthConfig {
  std::optional<KubernetesCallerAuth> kubernetes;

  bool operator==(const CallerAuthConfig&) const = default;
};

struct LimitsConfig {
  // Largest request message accepted (gRPC's receive limit). The default fits every request
  // within the field limits of server/service/token_request.h.
  size_t max_request_bytes = 32 << 10;
  // Forced refreshes a caller may ask for, `force_refresh_per_caller` per `force_refresh_per`
  // (a token bucket of that size, refilled evenly).
  int force_refresh_per_caller = 6;
  absl::Duration force_refresh_per = absl::Minutes(1);

  bool operator==(const LimitsConfig&) const = default;
};

// Parses a client's "allowed_callers" found at `path`. INVALID_ARGUMENT naming the entry.
absl::StatusOr<std::vector<CallerRule>> ParseAllowedCallers(
    const nlohmann::json& allowed_callers, const std::string& path,
    const std::vector<std::string>& client_scopes);

// Parses "caller_auth". `read_file` checks that the files it names can be read.
absl::StatusOr<CallerAuthConfig> ParseCallerAuth(
    const nlohmann::json& caller_auth,
    const std::function<absl::StatusOr<std::string>(const std::string&)>& read_file);

// Parses "limits".
absl::StatusOr<LimitsConfig> ParseLimits(const nlohmann::json& limits);

// Checks an identity pattern; INVALID_ARGUMENT saying what a pattern looks like.
absl::Status CheckCallerPattern(const std::string& pattern);

}  // namespace agentauth
