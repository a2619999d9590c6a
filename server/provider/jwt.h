// Reading, not verifying, the payload of a JWT access token.
#pragma once

#include <optional>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace agentauth {

// The `exp` claim of a compact JWT, or nullopt when `token` is not a JWT with a numeric `exp`.
// Nothing is verified: agentauth only uses it to learn a lifetime the provider did not state.
std::optional<absl::Time> JwtExpiry(absl::string_view token);

}  // namespace agentauth
