// Fuzzes JwtExpiry, which decodes the payload of whatever access token a provider sent. Each
// input is tried twice: as the token itself (splitting, base64) and as the JSON payload of a
// well-formed token (so the fuzzer mutates the claims directly rather than their base64).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "server/provider/jwt.h"
#include "tests/fuzz/fuzz_invariants.h"

namespace agentauth::fuzzing {
namespace {

constexpr absl::string_view kTarget = "jwt";

// An exp beyond year 9999 either way is junk; JwtExpiry may ignore it.
constexpr double kPlausibleExpSeconds = 253402300800.0;

// When `exp` in `payload` is a plausible number, the answer must be within a second of it; when
// it is implausibly large, the answer may be missing but never on the wrong side of the epoch
// (a cast overflow makes 1e300 the year -292e9). This oracle decodes independently of the code
// under test.
void CheckAgainstPayload(const std::optional<absl::Time>& expiry, absl::string_view payload) {
  const nlohmann::json claims = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  const bool has_numeric_exp =
      claims.is_object() && claims.contains("exp") && claims["exp"].is_number();
  if (!has_numeric_exp) {
    Require(!expiry.has_value(), kTarget, absl::StrCat("an exp from no exp in ", Quote(payload)));
    return;
  }

  const double exp = claims["exp"].get<double>();
  const bool plausible = std::fabs(exp) < kPlausibleExpSeconds;
  if (!expiry) {
    Require(!plausible, kTarget, absl::StrCat("JwtExpiry missed exp ", exp));
    return;
  }
  const absl::Duration since_epoch = *expiry - absl::UnixEpoch();
  if (exp >= 1) {
    Require(since_epoch > absl::ZeroDuration(), kTarget,
            absl::StrCat("exp ", exp, " became ", absl::FormatTime(*expiry)));
  } else if (exp <= -1) {
    Require(since_epoch < absl::ZeroDuration(), kTarget,
            absl::StrCat("exp ", exp, " became ", absl::FormatTime(*expiry)));
  }
  if (plausible) {
    const double error = std::fabs(absl::ToDoubleSeconds(since_epoch) - exp);
    Require(error < 1.0, kTarget, absl::StrCat("exp ", exp, " became ", absl::FormatTime(*expiry)));
  }
}

void FuzzOne(absl::string_view input) {
  // The token as the provider sent it: only the shape and the decoding are exercised.
  const std::optional<absl::Time> raw = JwtExpiry(input);
  if (raw) {
    Require(std::count(input.begin(), input.end(), '.') == 2, kTarget,
            absl::StrCat("an exp from a token without three parts: ", Quote(input)));
  }

  // The input as the claims of a well-formed token.
  const std::string token =
      absl::StrCat("eyJhbGciOiJSUzI1NiJ9.", absl::WebSafeBase64Escape(input), ".c2ln");
  CheckAgainstPayload(JwtExpiry(token), input);
}

}  // namespace
}  // namespace agentauth::fuzzing

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return agentauth::fuzzing::RunGuarded(
      "jwt", data, size, [](absl::string_view input) { agentauth::fuzzing::FuzzOne(input); });
}
