#include "server/provider/discovery.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "server/common/text.h"

namespace agentauth {

std::string DiscoveryUrl(absl::string_view issuer) {
  if (absl::EndsWith(issuer, "/")) issuer.remove_suffix(1);
  return absl::StrCat(issuer, "/.well-known/openid-configuration");
}

absl::StatusOr<ProviderMetadata> ParseDiscoveryDocument(absl::string_view body,
                                                        absl::string_view expected_issuer) {
  const nlohmann::json document = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!document.is_object()) {
    return absl::InvalidArgumentError("the discovery document is not a JSON object");
  }

  ProviderMetadata metadata;
  const auto issuer = document.find("issuer");
  if (issuer == document.end() || !issuer->is_string()) {
    return absl::InvalidArgumentError("the discovery document has no issuer");
  }
  metadata.issuer = issuer->get<std::string>();
  if (metadata.issuer != expected_issuer) {
    return absl::FailedPreconditionError(
        absl::StrCat("the discovery document's issuer \"", SanitizeForMessage(metadata.issuer, 256),
                     "\" is not the configured authority \"", expected_issuer,
                     "\"; they must match exactly, trailing slash included"));
  }

  const auto endpoint = document.find("token_endpoint");
  if (endpoint == document.end() || !endpoint->is_string() ||
      endpoint->get<std::string>().empty()) {
    return absl::InvalidArgumentError("the discovery document has no token_endpoint");
  }
  metadata.token_endpoint = endpoint->get<std::string>();

  const auto methods = document.find("token_endpoint_auth_methods_supported");
  if (methods != document.end() && methods->is_array()) {
    std::vector<std::string> names;
    for (const auto& method : *methods) {
      if (method.is_string()) names.push_back(method.get<std::string>());
    }
    metadata.token_auth_methods = std::move(names);
  }

  const auto aliases = document.find("mtls_endpoint_aliases");
  if (aliases != document.end() && aliases->is_object()) {
    const auto alias = aliases->find("token_endpoint");
    if (alias != aliases->end() && alias->is_string()) {
      metadata.mtls_token_endpoint = alias->get<std::string>();
    }
  }
  return metadata;
}

AvailableCredentials AvailableCredentials::Of(const ClientConfig& client) {
  return {.secret = !client.client_secret.empty(),
          .private_key = !client.private_key_pem.empty(),
          .certificate = !client.tls_client_cert_pem.empty()};
}

absl::StatusOr<AuthMethod> ChooseAuthMethod(AuthMethod configured,
                                            const std::optional<std::vector<std::string>>& listed,
                                            const AvailableCredentials& credentials) {
  if (configured != AuthMethod::kAutomatic) return configured;

  // Strongest first: a key or certificate never leaves the machine; a secret does (Basic, post)
  // or is at least shared with the provider (client_secret_jwt).
  std::vector<AuthMethod> candidates;
  if (credentials.private_key) candidates.push_back(AuthMethod::kPrivateKeyJwt);
  if (credentials.certificate) candidates.push_back(AuthMethod::kTlsClientAuth);
  if (credentials.secret) {
    // One at a time: GCC 12 warns falsely (array-bounds) about inserting a list here.
    candidates.push_back(AuthMethod::kClientSecretBasic);
    candidates.push_back(AuthMethod::kClientSecretPost);
    candidates.push_back(AuthMethod::kClientSecretJwt);
  }
  // An empty list says as little as none (RFC 8414 2: omitted means client_secret_basic).
  if (!listed || listed->empty()) {
    if (credentials.secret) return AuthMethod::kClientSecretBasic;
    if (!candidates.empty()) return candidates.front();
    return absl::FailedPreconditionError("the client has no credentials");
  }

  for (AuthMethod candidate : candidates) {
    if (std::find(listed->begin(), listed->end(), AuthMethodName(candidate)) != listed->end()) {
      return candidate;
    }
  }
  std::vector<std::string> usable;
  for (AuthMethod candidate : candidates) usable.emplace_back(AuthMethodName(candidate));
  return absl::FailedPreconditionError(absl::StrCat(
      "the provider lists token endpoint auth methods ",
      SanitizeForMessage(absl::StrJoin(*listed, ", "), 300),
      ", but the configured credentials allow only ", absl::StrJoin(usable, ", "),
      "; configure the missing credential, or set auth_method if the provider's list is wrong"));
}

}  // namespace agentauth
