// OpenID Connect discovery (OpenID Connect Discovery 1.0, section 4).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/config/config.h"

namespace agentauth {

// What agentauth uses of a provider's discovery document.
struct ProviderMetadata {
  std::string issuer;
  std::string token_endpoint;
  // token_endpoint_auth_methods_supported; nullopt when the document does not list them.
  std::optional<std::vector<std::string>> token_auth_methods;
};

// `<issuer>/.well-known/openid-configuration`, with one slash whether or not the issuer ends
// in one (section 4.1).
std::string DiscoveryUrl(absl::string_view issuer);

// Parses a discovery document fetched for `expected_issuer`.
//
// Errors: INVALID_ARGUMENT when it is not a JSON object or lacks a string issuer or
// token_endpoint; FAILED_PRECONDITION when its issuer differs from `expected_issuer` in any
// character (section 4.3), quoting both.
absl::StatusOr<ProviderMetadata> ParseDiscoveryDocument(absl::string_view body,
                                                        absl::string_view expected_issuer);

// The method to use: the configured one; else client_secret_basic when the provider lists it or
// lists nothing (the spec's default); else client_secret_post when it lists that.
AuthMethod ChooseAuthMethod(AuthMethod configured, const ProviderMetadata& metadata);

}  // namespace agentauth
