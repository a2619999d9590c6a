#include "server/provider/token_response.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/common/text.h"
#include "server/config/config.h"
#include "server/provider/jwt.h"

namespace agentauth {
namespace {

using Json = nlohmann::json;

// Longer than any real token's life; a larger number is a unit mix-up (milliseconds) or junk.
constexpr absl::Duration kMaxLifetime = absl::Hours(24 * 365);

constexpr size_t kMaxDescriptionBytes = 1024;
constexpr size_t kMaxErrorCodeBytes = 128;

// A numeric field as providers send it: a number, or a string holding one ("3599", "1e3").
// nullopt when absent, empty, or not a finite number; `junk` is set in the last case.
std::optional<double> NumericField(const Json& object, absl::string_view key, bool& junk) {
  junk = false;
  const auto found = object.find(key);
  if (found == object.end() || found->is_null()) return std::nullopt;

  double value = 0;
  if (found->is_number()) {
    value = found->get<double>();
  } else if (found->is_string()) {
    const std::string text(absl::StripAsciiWhitespace(found->get<std::string>()));
    if (text.empty()) return std::nullopt;
    if (!absl::SimpleAtod(text, &value)) {
      junk = true;
      return std::nullopt;
    }
  } else {
    junk = true;
    return std::nullopt;
  }
  if (!std::isfinite(value)) {
    junk = true;
    return std::nullopt;
  }
  return value;
}

// Seconds as a Duration, floored; out-of-range values stay out of range without overflowing.
absl::Duration FlooredSeconds(double seconds) {
  const double limit = absl::ToDoubleSeconds(kMaxLifetime) * 2;
  return absl::Seconds(std::floor(std::clamp(seconds, -limit, limit)));
}

absl::Duration CheckedLifetime(absl::Duration lifetime, absl::string_view source,
                               const TokenResponseOptions& options, ParsedToken& out) {
  if (lifetime > absl::ZeroDuration() && lifetime <= kMaxLifetime) return lifetime;
  out.warnings.push_back(absl::StrCat(source, " gives a lifetime of ",
                                      absl::FormatDuration(lifetime), ", which is not usable; ",
                                      "assuming ", absl::FormatDuration(options.default_lifetime)));
  return options.default_lifetime;
}

absl::Duration Lifetime(const Json& object, const TokenResponseOptions& options, ParsedToken& out) {
  bool junk = false;
  if (std::optional<double> expires_in = NumericField(object, "expires_in", junk)) {
    return CheckedLifetime(FlooredSeconds(*expires_in), "expires_in", options, out);
  }
  if (junk) out.warnings.push_back("expires_in is not a number; ignored");

  if (std::optional<double> expires_on = NumericField(object, "expires_on", junk)) {
    const absl::Duration lifetime =
        FlooredSeconds(*expires_on - absl::ToUnixMillis(options.received_at) / 1000.0);
    return CheckedLifetime(lifetime, "expires_on", options, out);
  }
  if (junk) out.warnings.push_back("expires_on is not a number; ignored");

  if (std::optional<absl::Time> exp = JwtExpiry(out.access_token)) {
    return CheckedLifetime(absl::Seconds(absl::ToInt64Seconds(*exp - options.received_at)),
                           "the token's exp claim", options, out);
  }
  out.warnings.push_back(absl::StrCat("no expires_in; assuming a lifetime of ",
                                      absl::FormatDuration(options.default_lifetime)));
  return options.default_lifetime;
}

absl::Status CheckTokenType(const Json& object, ParsedToken& out) {
  const auto found = object.find("token_type");
  if (found == object.end() || found->is_null() ||
      (found->is_string() && found->get<std::string>().empty())) {
    out.warnings.push_back("no token_type; assuming Bearer");
    return absl::OkStatus();
  }
  if (!found->is_string()) {
    return absl::InvalidArgumentError("token_type is not a string");
  }
  const std::string type = found->get<std::string>();
  if (absl::AsciiStrToLower(type) == "bearer") return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("token_type \"", SanitizeForMessage(type, 64),
                   "\" is not supported; agentauth serves Bearer tokens only"));
}

absl::Status ReadAccessToken(const Json& object, ParsedToken& out) {
  const auto found = object.find("access_token");
  if (found == object.end() || !found->is_string() || found->get<std::string>().empty()) {
    return absl::InvalidArgumentError("the answer has no access_token");
  }
  out.access_token = found->get<std::string>();

  // The token goes into "Bearer <token>" headers (RFC 6750 b64token: visible ASCII); a space
  // or control character would split one, other bytes break callers' HTTP stacks.
  for (unsigned char c : out.access_token) {
    if (c <= ' ' || c >= 0x7f) {
      out.access_token.clear();
      return absl::InvalidArgumentError(
          "the access_token contains spaces, control characters or non-ASCII bytes");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ParsedToken> ParseTokenResponse(absl::string_view body,
                                               const TokenResponseOptions& options) {
  const Json object = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!object.is_object()) return absl::InvalidArgumentError("the answer is not a JSON object");

  ParsedToken out;
  if (absl::Status status = ReadAccessToken(object, out); !status.ok()) return status;
  if (absl::Status status = CheckTokenType(object, out); !status.ok()) return status;
  out.lifetime = Lifetime(object, options, out);

  // A JWT that says it has expired is dead whatever the lifetime fields claim: serving it would
  // only move the failure to the API the caller presents it to.
  if (std::optional<absl::Time> exp = JwtExpiry(out.access_token);
      exp.has_value() && *exp <= options.received_at) {
    out.access_token.clear();
    return absl::InvalidArgumentError(absl::StrCat(
        "the token expired before it was received (its exp claim is ",
        absl::FormatDuration(absl::Trunc(options.received_at - *exp, absl::Seconds(1))),
        " in the past; check the provider's clock)"));
  }

  if (const auto scope = object.find("scope"); scope != object.end() && scope->is_string()) {
    out.scopes = NormalizeScopes({scope->get<std::string>()});
  }
  return out;
}

std::optional<OAuthError> ParseOAuthError(absl::string_view body) {
  const Json object = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!object.is_object()) return std::nullopt;
  const auto error = object.find("error");
  if (error == object.end() || !error->is_string() || error->get<std::string>().empty()) {
    return std::nullopt;
  }

  OAuthError out;
  out.error = SanitizeForMessage(error->get<std::string>(), kMaxErrorCodeBytes);
  if (const auto description = object.find("error_description");
      description != object.end() && description->is_string()) {
    out.description = SanitizeForMessage(description->get<std::string>(), kMaxDescriptionBytes);
  }
  return out;
}

}  // namespace agentauth
