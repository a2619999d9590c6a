#include "server/provider/discovery.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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
  return metadata;
}

AuthMethod ChooseAuthMethod(AuthMethod configured, const ProviderMetadata& metadata) {
  if (configured != AuthMethod::kAutomatic) return configured;
  if (!metadata.token_auth_methods) return AuthMethod::kClientSecretBasic;

  const auto lists = [&](absl::string_view name) {
    return std::find(metadata.token_auth_methods->begin(), metadata.token_auth_methods->end(),
                     name) != metadata.token_auth_methods->end();
  };
  if (lists("client_secret_basic")) return AuthMethod::kClientSecretBasic;
  if (lists("client_secret_post")) return AuthMethod::kClientSecretPost;
  return AuthMethod::kClientSecretBasic;
}

}  // namespace agentauth
