// Fuzzes ParseDiscoveryDocument, which reads whatever the authority's well-known URL returns.
// Each document is checked against a fixed authority (the usual mismatch path) and against the
// issuer it names (so the fuzzer also reaches token_endpoint and the auth methods).
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "server/config/config.h"
#include "server/provider/discovery.h"
#include "tests/fuzz/fuzz_invariants.h"

namespace agentauth::fuzzing {
namespace {

constexpr absl::string_view kTarget = "discovery";
constexpr absl::string_view kAuthority = "https://idp.example.test/app/o/a1/";

// Error messages end up in logs and in the status callers see: whatever the document holds,
// they stay one line and short. The configured authority is quoted in full, so it is allowed
// for on top of this bound.
constexpr size_t kMaxMessageBytes = 512;

void CheckMetadata(const ProviderMetadata& metadata, absl::string_view expected_issuer) {
  Require(
      metadata.issuer == expected_issuer, kTarget,
      absl::StrCat("accepted issuer ", Quote(metadata.issuer), " for ", Quote(expected_issuer)));
  Require(!metadata.token_endpoint.empty(), kTarget, "accepted an empty token_endpoint");

  const AvailableCredentials secret_only{.secret = true};
  const absl::StatusOr<AuthMethod> chosen =
      ChooseAuthMethod(AuthMethod::kAutomatic, metadata.token_auth_methods, secret_only);
  Require(!chosen.ok() || *chosen != AuthMethod::kAutomatic, kTarget,
          "ChooseAuthMethod returned kAutomatic");
  Require(!chosen.ok() || *chosen == AuthMethod::kClientSecretBasic ||
              *chosen == AuthMethod::kClientSecretPost || *chosen == AuthMethod::kClientSecretJwt,
          kTarget, "ChooseAuthMethod chose a method a secret alone cannot do");
  const absl::StatusOr<AuthMethod> configured =
      ChooseAuthMethod(AuthMethod::kClientSecretPost, metadata.token_auth_methods, secret_only);
  Require(configured.ok() && *configured == AuthMethod::kClientSecretPost, kTarget,
          "a configured auth method was overridden");
  if (!metadata.token_auth_methods) {
    Require(chosen.ok() && *chosen == AuthMethod::kClientSecretBasic, kTarget,
            "no listed methods must mean client_secret_basic");
  }
}

void CheckError(const absl::Status& status, absl::string_view expected_issuer) {
  Require(status.code() == absl::StatusCode::kInvalidArgument ||
              status.code() == absl::StatusCode::kFailedPrecondition,
          kTarget, absl::StrCat("unexpected code: ", status.ToString()));
  Require(!HasControlCharacter(status.message()), kTarget,
          absl::StrCat("the error holds a control character: ", Quote(status.message())));
  Require(status.message().size() <= kMaxMessageBytes + expected_issuer.size(), kTarget,
          absl::StrCat("the error is ", status.message().size(), " bytes long"));
}

void Check(absl::string_view body, absl::string_view expected_issuer) {
  absl::StatusOr<ProviderMetadata> metadata = ParseDiscoveryDocument(body, expected_issuer);
  if (metadata.ok()) {
    CheckMetadata(*metadata, expected_issuer);
  } else {
    CheckError(metadata.status(), expected_issuer);
  }
}

void FuzzOne(absl::string_view body) {
  Check(body, kAuthority);

  const nlohmann::json document = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!document.is_object()) return;
  const auto issuer = document.find("issuer");
  if (issuer == document.end() || !issuer->is_string()) return;
  const std::string named_issuer = issuer->get<std::string>();
  Check(body, named_issuer);

  // Section 4.1: the issuer without its one trailing slash, then the well-known path.
  constexpr absl::string_view kSuffix = "/.well-known/openid-configuration";
  const std::string url = DiscoveryUrl(named_issuer);
  Require(absl::EndsWith(url, kSuffix), kTarget, absl::StrCat("discovery URL ", Quote(url)));
  const absl::string_view base = absl::string_view(url).substr(0, url.size() - kSuffix.size());
  Require(base == named_issuer || absl::StrCat(base, "/") == named_issuer, kTarget,
          absl::StrCat("discovery URL ", Quote(url), " for issuer ", Quote(named_issuer)));
}

}  // namespace
}  // namespace agentauth::fuzzing

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return agentauth::fuzzing::RunGuarded(
      "discovery", data, size, [](absl::string_view input) { agentauth::fuzzing::FuzzOne(input); });
}
