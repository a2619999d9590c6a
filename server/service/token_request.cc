#include "server/service/token_request.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/common/text.h"
#include "server/service/conversions.h"

namespace agentauth {
namespace {

bool HasControlOrSpace(absl::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte <= ' ' || byte == 0x7f;
  });
}

// RFC 8707 2: an absolute URI (a scheme, then ':') without a fragment.
absl::Status CheckAudience(absl::string_view audience) {
  const size_t colon = audience.find(':');
  const bool scheme_ok = colon != absl::string_view::npos && colon > 0 &&
                         absl::ascii_isalpha(static_cast<unsigned char>(audience[0])) &&
                         std::all_of(audience.begin(), audience.begin() + colon, [](char c) {
                           return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '+' ||
                                  c == '-' || c == '.';
                         });
  if (!scheme_ok || colon + 1 == audience.size() || HasControlOrSpace(audience) ||
      audience.find('#') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("audience \"", SanitizeForMessage(audience, 200),
                     "\" is not an absolute URI without a fragment (RFC 8707), such as "
                     "\"https://api.example.com\""));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> RequestedScopes(
    const agentauth::v1::GetAccessTokenRequest& request, const ClientConfig& client) {
  std::vector<std::string> scopes =
      NormalizeScopes({request.scopes().begin(), request.scopes().end()});
  if (scopes.empty()) return client.scopes;

  for (const std::string& scope : scopes) {
    if (!std::binary_search(client.scopes.begin(), client.scopes.end(), scope)) {
      return absl::InvalidArgumentError(
          absl::StrCat("scope \"", SanitizeForMessage(scope, kMaxScopeBytes),
                       "\" is not among the scopes configured for client \"", client.name, "\" (",
                       client.scopes.empty() ? "none" : absl::StrJoin(client.scopes, " "), ")"));
    }
  }
  return scopes;
}

}  // namespace

absl::Status CheckRequestShape(const agentauth::v1::GetAccessTokenRequest& request) {
  if (request.client().empty()) return absl::InvalidArgumentError("client is required");
  if (request.client().size() > kMaxClientNameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("client is longer than ", kMaxClientNameBytes, " bytes"));
  }
  if (static_cast<size_t>(request.scopes_size()) > kMaxScopes) {
    return absl::InvalidArgumentError(absl::StrCat("more than ", kMaxScopes, " scopes"));
  }
  for (const std::string& scope : request.scopes()) {
    if (scope.size() > kMaxScopeBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("a scope is longer than ", kMaxScopeBytes, " bytes"));
    }
  }
  if (request.audience().size() > kMaxAudienceBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("audience is longer than ", kMaxAudienceBytes, " bytes"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ValidTokenRequest> ValidateTokenRequest(
    const agentauth::v1::GetAccessTokenRequest& request, const ClientConfig& client) {
  ValidTokenRequest valid;
  absl::StatusOr<std::vector<std::string>> scopes = RequestedScopes(request, client);
  if (!scopes.ok()) return scopes.status();
  valid.scopes = *std::move(scopes);

  if (!request.audience().empty()) {
    if (absl::Status status = CheckAudience(request.audience()); !status.ok()) return status;
    valid.audience = request.audience();
  }

  valid.min_validity = client.min_validity;
  if (request.has_min_validity()) {
    std::optional<absl::Duration> min_validity = FromProtoDuration(request.min_validity());
    if (!min_validity || *min_validity < absl::ZeroDuration() || *min_validity > kMaxMinValidity) {
      return absl::InvalidArgumentError(absl::StrCat("min_validity must be between 0s and ",
                                                     absl::FormatDuration(kMaxMinValidity)));
    }
    valid.min_validity = *min_validity;
  }
  valid.force_refresh = request.force_refresh();
  return valid;
}

}  // namespace agentauth
