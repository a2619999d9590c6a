#include "server/config/caller_policy_config.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/common/status_macros.h"
#include "server/config/config.h"
#include "server/config/json_fields.h"
#include "server/http/url.h"

namespace agentauth {
namespace {

using config_json::Child;
using config_json::Element;
using config_json::Json;
using config_json::PathError;

using ReadFile = std::function<absl::StatusOr<std::string>(const std::string&)>;

constexpr absl::string_view kPatternHelp =
    "expected a caller pattern: a URI SAN such as \"spiffe://example.org/ns/*\", "
    "\"dns:<name>\", \"cn:<common name>\", \"serviceaccount:<namespace>/<name>\", \"uid:<n>\" "
    "or \"gid:<n>\" (`*` matches any run of characters except '/')";

bool IsUriPattern(absl::string_view pattern) {
  const size_t separator = pattern.find("://");
  if (separator == absl::string_view::npos || separator == 0) return false;
  return absl::ascii_isalpha(static_cast<unsigned char>(pattern[0])) &&
         std::all_of(pattern.begin(), pattern.begin() + separator,
                     [](char c) {
                       return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '+' ||
                              c == '-' || c == '.';
                     }) &&
         pattern.size() > separator + 3;
}

absl::StatusOr<CallerRule> ParseRule(const Json& entry, const std::string& path,
                                     const std::vector<std::string>& client_scopes) {
  CallerRule rule;
  if (entry.is_string()) {
    rule.pattern = entry.get<std::string>();
  } else if (entry.is_object()) {
    AGENTAUTH_RETURN_IF_ERROR(
        config_json::RejectUnknownKeys(entry, path, {"caller", "scopes", "audiences"}));
    std::optional<std::string> caller;
    AGENTAUTH_RETURN_IF_ERROR(config_json::ReadString(entry, path, "caller", caller));
    if (!caller) return PathError(Child(path, "caller"), "required");
    rule.pattern = *caller;
    AGENTAUTH_RETURN_IF_ERROR(config_json::ReadStringArray(entry, path, "scopes", rule.scopes));
    AGENTAUTH_RETURN_IF_ERROR(
        config_json::ReadStringArray(entry, path, "audiences", rule.audiences));
  } else {
    return PathError(
        path, absl::StrCat("expected a string or an object, got ", config_json::TypeName(entry)));
  }

  const std::string pattern_path = entry.is_object() ? Child(path, "caller") : path;
  if (absl::Status status = CheckCallerPattern(rule.pattern); !status.ok()) {
    return PathError(pattern_path, status.message());
  }
  if (rule.scopes) {
    rule.scopes = NormalizeScopes(*rule.scopes);
    for (const std::string& scope : *rule.scopes) {
      if (!std::binary_search(client_scopes.begin(), client_scopes.end(), scope)) {
        return PathError(Child(path, "scopes"),
                         absl::StrCat("scope \"", scope, "\" is not among the client's scopes (",
                                      absl::StrJoin(client_scopes, " "), ")"));
      }
    }
  }
  return rule;
}

// An issuer or JWKS URL: https, or http to loopback (tests, a local proxy).
absl::Status CheckFetchUrl(const std::string& url, const std::string& path) {
  absl::StatusOr<ParsedUrl> parsed = ParseHttpUrl(url);
  if (!parsed.ok()) return PathError(path, parsed.status().message());
  if (parsed->scheme == "http" && !IsLoopbackHost(parsed->host)) {
    return PathError(path, absl::StrCat("\"", url,
                                        "\" uses plain http to a host other than loopback: "
                                        "verification keys must come over https"));
  }
  return absl::OkStatus();
}

absl::StatusOr<KubernetesCallerAuth> ParseKubernetes(const Json& kubernetes,
                                                     const std::string& path,
                                                     const ReadFile& read_file) {
  AGENTAUTH_RETURN_IF_ERROR(config_json::RequireObject(kubernetes, path));
  AGENTAUTH_RETURN_IF_ERROR(
      config_json::RejectUnknownKeys(kubernetes, path,
                                     {"issuer", "audience", "jwks_file", "jwks_uri", "ca_file",
                                      "bearer_token_file", "leeway", "jwks_refresh"}));

  KubernetesCallerAuth out;
  std::optional<std::string> value;
  for (auto [key, target] :
       {std::pair{"issuer", &out.issuer}, std::pair{"audience", &out.audience},
        std::pair{"jwks_file", &out.jwks_file}, std::pair{"jwks_uri", &out.jwks_uri},
        std::pair{"ca_file", &out.ca_file},
        std::pair{"bearer_token_file", &out.bearer_token_file}}) {
    value.reset();
    AGENTAUTH_RETURN_IF_ERROR(config_json::ReadString(kubernetes, path, key, value));
    if (value) *target = *value;
  }
  if (out.issuer.empty()) return PathError(Child(path, "issuer"), "required");
  if (out.audience.empty()) return PathError(Child(path, "audience"), "required");
  if (!out.jwks_file.empty() && !out.jwks_uri.empty()) {
    return PathError(path, "set at most one of jwks_file or jwks_uri");
  }
  if (out.jwks_file.empty()) {
    AGENTAUTH_RETURN_IF_ERROR(CheckFetchUrl(out.issuer, Child(path, "issuer")));
  }
  if (!out.jwks_uri.empty()) {
    AGENTAUTH_RETURN_IF_ERROR(CheckFetchUrl(out.jwks_uri, Child(path, "jwks_uri")));
  }
  for (auto [key, file] :
       {std::pair{"jwks_file", &out.jwks_file}, std::pair{"ca_file", &out.ca_file},
        std::pair{"bearer_token_file", &out.bearer_token_file}}) {
    if (file->empty()) continue;
    if (absl::StatusOr<std::string> content = read_file(*file); !content.ok()) {
      return PathError(Child(path, key), content.status().message());
    }
  }

  std::optional<absl::Duration> leeway;
  std::optional<absl::Duration> refresh;
  AGENTAUTH_RETURN_IF_ERROR(config_json::ReadDuration(
      kubernetes, path, "leeway", absl::ZeroDuration(), absl::Minutes(5), leeway));
  AGENTAUTH_RETURN_IF_ERROR(config_json::ReadDuration(kubernetes, path, "jwks_refresh",
                                                      absl::Seconds(10), absl::Hours(24), refresh));
  out.leeway = leeway.value_or(out.leeway);
  out.jwks_refresh = refresh.value_or(out.jwks_refresh);
  return out;
}

}  // namespace

absl::Status CheckCallerPattern(const std::string& pattern) {
  const bool has_control = std::any_of(pattern.begin(), pattern.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte < ' ' || byte == 0x7f;
  });
  if (pattern.empty() || pattern.size() > 1024 || has_control) {
    return absl::InvalidArgumentError(kPatternHelp);
  }
  if (IsUriPattern(pattern)) return absl::OkStatus();

  const size_t colon = pattern.find(':');
  const absl::string_view kind = absl::string_view(pattern).substr(0, colon);
  const absl::string_view value =
      colon == std::string::npos ? "" : absl::string_view(pattern).substr(colon + 1);
  if (value.empty()) return absl::InvalidArgumentError(kPatternHelp);
  if (kind == "dns" || kind == "cn") return absl::OkStatus();
  if (kind == "uid" || kind == "gid") {
    const bool numeric = value == "*" || std::all_of(value.begin(), value.end(), [](char c) {
                           return absl::ascii_isdigit(static_cast<unsigned char>(c));
                         });
    if (numeric && value.size() <= 10) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat("\"", pattern, "\": a ", kind, " is a number or `*`"));
  }
  if (kind == "serviceaccount") {
    const size_t slash = value.find('/');
    if (slash != absl::string_view::npos && slash > 0 && slash + 1 < value.size() &&
        value.find('/', slash + 1) == absl::string_view::npos) {
      return absl::OkStatus();
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", pattern, "\": expected serviceaccount:<namespace>/<name>, e.g. serviceaccount:ci/*"));
  }
  return absl::InvalidArgumentError(kPatternHelp);
}

absl::StatusOr<std::vector<CallerRule>> ParseAllowedCallers(
    const Json& allowed_callers, const std::string& path,
    const std::vector<std::string>& client_scopes) {
  if (!allowed_callers.is_array()) {
    return PathError(path, absl::StrCat("expected an array of caller patterns, got ",
                                        config_json::TypeName(allowed_callers)));
  }
  std::vector<CallerRule> rules;
  for (size_t i = 0; i < allowed_callers.size(); ++i) {
    absl::StatusOr<CallerRule> rule =
        ParseRule(allowed_callers[i], Element(path, i), client_scopes);
    if (!rule.ok()) return rule.status();
    rules.push_back(*std::move(rule));
  }
  return rules;
}

absl::StatusOr<CallerAuthConfig> ParseCallerAuth(const Json& caller_auth,
                                                 const ReadFile& read_file) {
  AGENTAUTH_RETURN_IF_ERROR(config_json::RequireObject(caller_auth, "caller_auth"));
  AGENTAUTH_RETURN_IF_ERROR(
      config_json::RejectUnknownKeys(caller_auth, "caller_auth", {"kubernetes"}));
  CallerAuthConfig out;
  if (const auto found = caller_auth.find("kubernetes"); found != caller_auth.end()) {
    absl::StatusOr<KubernetesCallerAuth> kubernetes =
        ParseKubernetes(*found, "caller_auth.kubernetes", read_file);
    if (!kubernetes.ok()) return kubernetes.status();
    out.kubernetes = *std::move(kubernetes);
  }
  return out;
}

absl::StatusOr<LimitsConfig> ParseLimits(const Json& limits) {
  AGENTAUTH_RETURN_IF_ERROR(config_json::RequireObject(limits, "limits"));
  AGENTAUTH_RETURN_IF_ERROR(
      config_json::RejectUnknownKeys(limits, "limits", {"max_request_bytes", "force_refresh"}));
  LimitsConfig out;
  std::optional<uint64_t> max_bytes;
  AGENTAUTH_RETURN_IF_ERROR(config_json::ReadWholeNumber(limits, "limits", "max_request_bytes",
                                                         1024, 4 << 20, max_bytes));
  out.max_request_bytes = max_bytes.value_or(out.max_request_bytes);

  if (const auto found = limits.find("force_refresh"); found != limits.end()) {
    const std::string path = "limits.force_refresh";
    AGENTAUTH_RETURN_IF_ERROR(config_json::RequireObject(*found, path));
    AGENTAUTH_RETURN_IF_ERROR(config_json::RejectUnknownKeys(*found, path, {"per_caller", "per"}));
    std::optional<uint64_t> per_caller;
    std::optional<absl::Duration> per;
    AGENTAUTH_RETURN_IF_ERROR(
        config_json::ReadWholeNumber(*found, path, "per_caller", 1, 10000, per_caller));
    AGENTAUTH_RETURN_IF_ERROR(
        config_json::ReadDuration(*found, path, "per", absl::Seconds(1), absl::Hours(24), per));
    out.force_refresh_per_caller = static_cast<int>(per_caller.value_or(6));
    out.force_refresh_per = per.value_or(out.force_refresh_per);
  }
  return out;
}

}  // namespace agentauth
