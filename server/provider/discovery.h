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
  // mtls_endpoint_aliases.token_endpoint (RFC 8705 5): where tls_client_auth requests go
  // instead of token_endpoint. Empty when the document names none.
  std::string mtls_token_endpoint;
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

// Which credentials a client has, for the automatic choice of its method.
struct AvailableCredentials {
  bool secret = false;
  bool private_key = false;
  bool certificate = false;

  static AvailableCredentials Of(const ClientConfig& client);
};

// The method to use: the configured one, always. Otherwise, from what the provider lists in
// token_endpoint_auth_methods_supported (`listed`), the first of these the credentials allow:
// private_key_jwt (a key), tls_client_auth (a certificate), client_secret_basic,
// client_secret_post, client_secret_jwt (a secret). When the provider lists nothing (nullopt,
// or the token endpoint is configured): client_secret_basic with a secret (RFC 6749's default),
// else private_key_jwt with a key, else tls_client_auth.
//
// FAILED_PRECONDITION when the provider lists methods and none fits the credentials; the
// message names both.
absl::StatusOr<AuthMethod> ChooseAuthMethod(AuthMethod configured,
                                            const std::optional<std::vector<std::string>>& listed,
                                            const AvailableCredentials& credentials);

}  // namespace agentauth
