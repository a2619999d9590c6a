// Fuzzes what a token endpoint may answer: ParseTokenResponse for 2xx bodies and ParseOAuthError
// for error bodies. Both read text from the network, so any byte sequence must give a value or
// an error, never a crash, an exception, a token that would break a header, or a message that
// echoes the token or carries raw control characters.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "server/provider/token_response.h"
#include "tests/fuzz/fuzz_invariants.h"

namespace agentauth::fuzzing {
namespace {

constexpr absl::string_view kTarget = "token_response";

// Tokens shorter than this are skipped by the "not echoed" checks: a two-letter token appears in
// ordinary words, and real tokens are far longer.
constexpr size_t kEchoCheckMinBytes = 16;

// The top-level string `key` of `body`, read independently of the parser under test; empty when
// absent or not a string.
std::string StringMember(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return "";
  const auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : "";
}

// A message may quote the token_type (that is its purpose), but nothing else the provider sent
// as a secret: not the access token, not a planted secret elsewhere in the body.
void CheckNotEchoed(absl::string_view text, absl::string_view what, const std::string& token,
                    const std::string& token_type) {
  if (absl::StrContains(text, kPlantedSecret) && !absl::StrContains(token_type, kPlantedSecret)) {
    Violation(kTarget, absl::StrCat(what, " contains the planted secret: ", Quote(text)));
  }
  if (token.size() >= kEchoCheckMinBytes && absl::StrContains(text, token) &&
      !absl::StrContains(token_type, token)) {
    Violation(kTarget, absl::StrCat(what, " contains the access token: ", Quote(text)));
  }
}

void CheckParsedToken(const ParsedToken& token, const std::string& raw_token,
                      const std::string& token_type) {
  Require(!token.access_token.empty(), kTarget, "an accepted token is empty");
  Require(token.access_token == raw_token, kTarget, "the token differs from the body's");
  for (unsigned char c : token.access_token) {
    // The token goes into "Authorization: Bearer <token>"; these would split or end the header.
    if (c <= ' ' || c == 0x7f) {
      Violation(kTarget, absl::StrCat("an accepted token contains byte ", static_cast<int>(c)));
    }
  }

  Require(token.lifetime > absl::ZeroDuration() && token.lifetime <= absl::Hours(24 * 365), kTarget,
          absl::StrCat("lifetime ", absl::FormatDuration(token.lifetime), " is not in (0, 1y]"));
  for (const std::string& warning : token.warnings) {
    Require(!HasControlCharacter(warning), kTarget,
            absl::StrCat("a warning holds a control character: ", Quote(warning)));
    CheckNotEchoed(warning, "a warning", raw_token, token_type);
  }

  for (size_t i = 0; i < token.scopes.size(); ++i) {
    const std::string& scope = token.scopes[i];
    Require(!scope.empty(), kTarget, "an empty scope");
    Require(scope.find_first_of(" \t\r\n") == std::string::npos, kTarget,
            absl::StrCat("scope with whitespace: ", Quote(scope)));
    Require(i == 0 || token.scopes[i - 1] < scope, kTarget, "scopes not sorted and unique");
  }
}

void CheckError(const absl::Status& status, const std::string& raw_token,
                const std::string& token_type) {
  Require(status.code() == absl::StatusCode::kInvalidArgument, kTarget,
          absl::StrCat("unexpected code: ", status.ToString()));
  Require(!HasControlCharacter(status.message()), kTarget,
          absl::StrCat("the error holds a control character: ", Quote(status.message())));
  Require(status.message().size() <= 256, kTarget,
          absl::StrCat("the error is ", status.message().size(), " bytes long"));
  CheckNotEchoed(status.message(), "the error", raw_token, token_type);
}

void CheckOAuthError(const OAuthError& error) {
  Require(!error.error.empty(), kTarget, "an OAuth error without a code");
  // Bounds of token_response.cc plus the "..." marker of SanitizeForMessage.
  Require(error.error.size() <= 128 + 3, kTarget, "the OAuth error code is not bounded");
  Require(error.description.size() <= 1024 + 3, kTarget, "the description is not bounded");
  for (const std::string* text : {&error.error, &error.description}) {
    Require(!HasControlCharacter(*text), kTarget,
            absl::StrCat("an OAuth error holds a control character: ", Quote(*text)));
    Require(IsWholeUtf8(*text), kTarget,
            absl::StrCat("an OAuth error was cut inside a UTF-8 sequence: ", Quote(*text)));
  }
}

void FuzzOne(absl::string_view body) {
  TokenResponseOptions options;
  options.default_lifetime = absl::Minutes(5);
  options.received_at = absl::FromUnixSeconds(1'800'000'000);

  const nlohmann::json object = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  const std::string raw_token = StringMember(object, "access_token");
  const std::string token_type = StringMember(object, "token_type");

  absl::StatusOr<ParsedToken> token = ParseTokenResponse(body, options);
  if (token.ok()) {
    CheckParsedToken(*token, raw_token, token_type);
  } else {
    CheckError(token.status(), raw_token, token_type);
  }

  if (std::optional<OAuthError> error = ParseOAuthError(body)) CheckOAuthError(*error);
}

}  // namespace
}  // namespace agentauth::fuzzing

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return agentauth::fuzzing::RunGuarded("token_response", data, size, [](absl::string_view input) {
    agentauth::fuzzing::FuzzOne(input);
  });
}
