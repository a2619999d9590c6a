#include "server/callers/service_account_verifier.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "server/common/text.h"
#include "server/http/url.h"

namespace agentauth {
namespace {

using Json = nlohmann::json;

absl::Status Rejected(absl::string_view why) {
  return absl::UnauthenticatedError(absl::StrCat("service account token rejected: ", why));
}

std::string Quoted(const Json& value) {
  return absl::StrCat(
      "\"", SanitizeForMessage(value.is_string() ? value.get<std::string>() : "", 128), "\"");
}

absl::StatusOr<Json> DecodeJsonPart(absl::string_view part, absl::string_view name) {
  std::string decoded;
  if (!absl::WebSafeBase64Unescape(part, &decoded)) {
    return Rejected(absl::StrCat("the ", name, " is not base64url"));
  }
  Json json = Json::parse(decoded, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return Rejected(absl::StrCat("the ", name, " is not a JSON object"));
  return json;
}

std::optional<absl::Time> NumericDate(const Json& claims, const char* name) {
  const auto found = claims.find(name);
  if (found == claims.end() || !found->is_number()) return std::nullopt;
  const double seconds = found->get<double>();
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 1e11) return std::nullopt;
  return absl::FromUnixSeconds(static_cast<int64_t>(seconds));
}

bool AudienceContains(const Json& claims, const std::string& audience) {
  const auto found = claims.find("aud");
  if (found == claims.end()) return false;
  if (found->is_string()) return found->get<std::string>() == audience;
  if (!found->is_array()) return false;
  return std::any_of(found->begin(), found->end(), [&](const Json& entry) {
    return entry.is_string() && entry.get<std::string>() == audience;
  });
}

bool IsNamePart(absl::string_view part) {
  return !part.empty() && part.size() <= 253 && std::all_of(part.begin(), part.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
  });
}

// "system:serviceaccount:<namespace>:<name>" -> "serviceaccount:<namespace>/<name>".
absl::StatusOr<std::string> IdentityOf(const Json& claims) {
  const auto sub = claims.find("sub");
  if (sub == claims.end() || !sub->is_string()) return Rejected("no sub claim");
  std::vector<std::string> parts = absl::StrSplit(sub->get<std::string>(), ':');
  if (parts.size() != 4 || parts[0] != "system" || parts[1] != "serviceaccount" ||
      !IsNamePart(parts[2]) || !IsNamePart(parts[3])) {
    return Rejected(
        absl::StrCat("sub ", Quoted(*sub), " is not system:serviceaccount:<namespace>:<name>"));
  }
  // When present, the kubernetes.io claims name the same account.
  const auto kubernetes = claims.find("kubernetes.io");
  if (kubernetes != claims.end() && kubernetes->is_object()) {
    const Json& info = *kubernetes;
    const bool namespace_agrees =
        !info.contains("namespace") || info["namespace"] == Json(parts[2]);
    const bool name_agrees = !info.contains("serviceaccount") ||
                             !info["serviceaccount"].is_object() ||
                             !info["serviceaccount"].contains("name") ||
                             info["serviceaccount"]["name"] == Json(parts[3]);
    if (!namespace_agrees || !name_agrees) {
      return Rejected("the kubernetes.io claims name another service account than sub");
    }
  }
  return absl::StrCat("serviceaccount:", parts[2], "/", parts[3]);
}

// The identity of a token whose signature was verified, once its claims hold.
absl::StatusOr<std::string> CheckClaims(const Json& claims, const KubernetesCallerAuth& config,
                                        absl::Time now) {
  const Json issuer = claims.value("iss", Json());
  if (issuer != Json(config.issuer)) {
    return Rejected(absl::StrCat("issuer ", Quoted(issuer), " is not the configured issuer \"",
                                 config.issuer, "\""));
  }
  if (!AudienceContains(claims, config.audience)) {
    return Rejected(absl::StrCat("its audience does not include \"", config.audience,
                                 "\"; project the token with audience ", config.audience));
  }
  const std::optional<absl::Time> expiry = NumericDate(claims, "exp");
  if (!expiry) return Rejected("no numeric exp claim");
  if (now > *expiry + config.leeway) {
    return Rejected(absl::StrCat("expired at ", absl::FormatTime(*expiry, absl::UTCTimeZone())));
  }
  if (claims.contains("nbf")) {
    const std::optional<absl::Time> not_before = NumericDate(claims, "nbf");
    if (!not_before) return Rejected("nbf is not a numeric date");
    if (now + config.leeway < *not_before) {
      return Rejected(
          absl::StrCat("not valid before ", absl::FormatTime(*not_before, absl::UTCTimeZone())));
    }
  }
  return IdentityOf(claims);
}

}  // namespace

ServiceAccountVerifier::ServiceAccountVerifier(KubernetesCallerAuth config, HttpClient& http,
                                               const Clock& clock, Logger& logger,
                                               ReadFile read_file, CallerMetrics* metrics)
    : config_(std::move(config)),
      http_(http),
      clock_(clock),
      logger_(logger),
      read_file_(std::move(read_file)),
      metrics_(metrics) {}

absl::StatusOr<std::string> ServiceAccountVerifier::Verify(absl::string_view token) {
  if (token.size() > kMaxTokenBytes) {
    return Rejected(absl::StrCat("longer than ", kMaxTokenBytes, " bytes"));
  }
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) return Rejected("not a signed JWT (three dot-separated parts)");

  absl::StatusOr<Json> header = DecodeJsonPart(parts[0], "header");
  if (!header.ok()) return header.status();
  const Json alg = header->value("alg", Json());
  if (alg != Json("RS256") && alg != Json("ES256")) {
    return Rejected(absl::StrCat("algorithm ", Quoted(alg), " is not accepted (RS256 or ES256)"));
  }
  const Json kid_json = header->value("kid", Json(""));
  const std::string kid = kid_json.is_string() ? kid_json.get<std::string>() : "";

  std::string signature;
  if (!absl::WebSafeBase64Unescape(parts[2], &signature) || signature.empty()) {
    return Rejected("the signature is not base64url");
  }
  absl::StatusOr<JwksKeys> keys = KeysFor(kid);
  if (!keys.ok()) return keys.status();
  const absl::string_view signing_input(parts[0].data(), parts[0].size() + 1 + parts[1].size());
  bool known_key = false;
  bool verified = false;
  for (const std::shared_ptr<const JsonWebKey>& key : *keys) {
    if ((!kid.empty() && key->kid() != kid) || key->algorithm() != alg.get<std::string>()) {
      continue;
    }
    known_key = true;
    if (key->Verifies(signing_input, signature)) {
      verified = true;
      break;
    }
  }
  if (!known_key) {
    return Rejected(absl::StrCat("signed with key id ", Quoted(kid_json),
                                 ", which the issuer's key set does not hold"));
  }
  if (!verified) return Rejected("the signature does not verify");

  absl::StatusOr<Json> payload = DecodeJsonPart(parts[1], "payload");
  if (!payload.ok()) return payload.status();
  return CheckClaims(*payload, config_, clock_.Now());
}

absl::Status ServiceAccountVerifier::Refresh() {
  absl::StatusOr<JwksKeys> keys = KeysFor("");
  return keys.ok() ? absl::OkStatus() : keys.status();
}

absl::StatusOr<JwksKeys> ServiceAccountVerifier::KeysFor(const std::string& want_kid) {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    const absl::Time now = clock_.Now();
    const bool have_keys = !keys_.empty();
    const bool kid_unknown =
        have_keys && !want_kid.empty() &&
        std::none_of(keys_.begin(), keys_.end(), [&](const std::shared_ptr<const JsonWebKey>& key) {
          return key->kid() == want_kid;
        });
    const bool stale = now - keys_time_ >= config_.jwks_refresh;
    // Failures and unknown kids refetch at most this often; the scheduled refresh as planned.
    const bool may_fetch = now - last_attempt_ >= kUnknownKidRefetchInterval ||
                           (have_keys && stale && last_error_.ok());
    const bool want_fetch = !have_keys || stale || kid_unknown;
    if (!want_fetch || !may_fetch) break;
    if (fetching_) {
      if (have_keys) break;  // Someone fetches; the last good set serves meanwhile.
      fetched_.wait(lock);
      continue;
    }

    fetching_ = true;
    last_attempt_ = now;
    lock.unlock();
    absl::StatusOr<JwksKeys> fetched = FetchKeys();
    lock.lock();
    fetching_ = false;
    if (fetched.ok()) {
      keys_ = *std::move(fetched);
      keys_time_ = clock_.Now();
      last_error_ = absl::OkStatus();
    } else {
      last_error_ = fetched.status();
      if (metrics_ != nullptr) metrics_->JwksFetchFailed();
      logger_.Warning("callers", "jwks_fetch_failed",
                      {{"cause", std::string(fetched.status().message())},
                       {"keys_kept", have_keys ? "yes" : "none yet"}});
    }
    fetched_.notify_all();
    break;
  }
  if (keys_.empty()) {
    return absl::UnavailableError(absl::StrCat(
        "cannot verify service account tokens yet: no keys (", last_error_.message(), ")"));
  }
  return keys_;
}

absl::StatusOr<JwksKeys> ServiceAccountVerifier::FetchKeys() {
  absl::StatusOr<std::string> document;
  if (!config_.jwks_file.empty()) {
    document = read_file_(config_.jwks_file);
  } else if (!config_.jwks_uri.empty()) {
    document = Get(config_.jwks_uri);
  } else {
    const std::string discovery_url =
        absl::StrCat(absl::StripSuffix(config_.issuer, "/"), "/.well-known/openid-configuration");
    absl::StatusOr<std::string> discovery = Get(discovery_url);
    if (!discovery.ok()) return discovery.status();
    const Json metadata = Json::parse(*discovery, nullptr, /*allow_exceptions=*/false);
    if (!metadata.is_object() || metadata.value("issuer", Json()) != Json(config_.issuer) ||
        !metadata.value("jwks_uri", Json()).is_string()) {
      return absl::UnavailableError(absl::StrCat(discovery_url,
                                                 " is not a discovery document of issuer ",
                                                 config_.issuer, " with a jwks_uri"));
    }
    const std::string jwks_uri = metadata["jwks_uri"].get<std::string>();
    absl::StatusOr<ParsedUrl> parsed = ParseHttpUrl(jwks_uri);
    if (!parsed.ok() || (parsed->scheme == "http" && !IsLoopbackHost(parsed->host))) {
      return absl::UnavailableError(
          absl::StrCat("the jwks_uri of ", discovery_url, " is not https (or http on loopback)"));
    }
    document = Get(jwks_uri);
  }
  if (!document.ok()) return document.status();
  absl::StatusOr<JwksKeys> keys = ParseJwks(*document);
  if (!keys.ok()) return absl::UnavailableError(keys.status().message());
  return keys;
}

absl::StatusOr<std::string> ServiceAccountVerifier::Get(const std::string& url) {
  HttpRequest request;
  request.url = url;
  request.headers.emplace_back("Accept", "application/json");
  if (!config_.bearer_token_file.empty()) {
    // Re-read every time: a projected token is rotated in place by the kubelet.
    absl::StatusOr<std::string> token = read_file_(config_.bearer_token_file);
    if (!token.ok()) return absl::UnavailableError(token.status().message());
    request.headers.emplace_back(
        "Authorization", absl::StrCat("Bearer ", absl::StripTrailingAsciiWhitespace(*token)));
  }
  request.ca_file = config_.ca_file;
  request.timeout = absl::Seconds(10);
  absl::StatusOr<HttpResponse> response = http_.Send(request);
  if (!response.ok()) return response.status();
  if (response->status != 200) {
    return absl::UnavailableError(absl::StrCat(url, " answered HTTP ", response->status));
  }
  return response->body;
}

}  // namespace agentauth
