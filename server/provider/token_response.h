// Reading a token endpoint's answer, as real providers write it (../cases/provider-quirks.md).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace agentauth {

struct ParsedToken {
  std::string access_token;
  // Granted scopes, normalized; empty when the provider did not say.
  std::vector<std::string> scopes;
  // How long the token lives from the moment the answer was received.
  absl::Duration lifetime;
  // Things a person may want to fix at the provider, e.g. "no expires_in; assuming 5m".
  // Never contain the token.
  std::vector<std::string> warnings;
};

struct TokenResponseOptions {
  // Used when no usable lifetime is in the answer.
  absl::Duration default_lifetime = absl::Minutes(5);
  // When the answer was received, for the absolute `expires_on`.
  absl::Time received_at;
};

// Parses a successful (2xx) token response body.
//
// Lifetime: `expires_in` (a number or a numeric string; fractions floored) wins; else
// `expires_on` (absolute epoch seconds; empty ignored); else the JWT's `exp`; else the default.
// A lifetime of zero, below zero or over a year is replaced by the default, with a warning.
// `ext_expires_in` never extends a lifetime. A `refresh_token` is ignored and not kept.
// `token_type` is matched without regard to case; missing or empty counts as Bearer (warning).
//
// Errors: INVALID_ARGUMENT naming what is wrong: not JSON, no access_token, a token type other
// than Bearer. The message never contains the token.
absl::StatusOr<ParsedToken> ParseTokenResponse(absl::string_view body,
                                               const TokenResponseOptions& options);

// An OAuth error answer (RFC 6749 5.2): `error` and a cleaned, bounded `error_description`.
struct OAuthError {
  std::string error;
  std::string description;
};

// The OAuth error in `body`, or nullopt when it is not a JSON object with a string `error`.
std::optional<OAuthError> ParseOAuthError(absl::string_view body);

}  // namespace agentauth
