// Fuzzes ParseConfig, the daemon's start-up configuration. The secret sources are fakes that
// never touch the disk or the environment: every file and variable holds a planted secret,
// except files whose path mentions "missing" and variables whose name starts with "UNSET".
//
// Each input is parsed twice, with two different secrets. Whatever the input, the secret must
// not change the outcome other than in the secret and its fingerprint: an error message that
// differs between the two runs has leaked something of the secret.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/config/config.h"
#include "server/http/url.h"
#include "tests/fuzz/fuzz_invariants.h"

namespace agentauth::fuzzing {
namespace {

constexpr absl::string_view kTarget = "config";
constexpr absl::string_view kOtherSecret = "FUZZ-SECRET-99";

SecretSources FixedSecrets(absl::string_view secret) {
  SecretSources sources;
  sources.read_file = [secret](const std::string& path) -> absl::StatusOr<std::string> {
    if (absl::StrContains(path, "missing")) {
      return absl::NotFoundError(absl::StrCat("cannot read \"", path, "\": no such file"));
    }
    // Written with `echo`, as secret files often are.
    return absl::StrCat(secret, "\n");
  };
  sources.get_env = [secret](const std::string& name) -> std::optional<std::string> {
    if (absl::StartsWith(name, "UNSET")) return std::nullopt;
    return std::string(secret);
  };
  return sources;
}

bool IsUserScope(absl::string_view scope) {
  return scope == "openid" || scope == "email" || scope == "profile" || scope == "organization";
}

void CheckClient(const ClientConfig& client, absl::string_view secret) {
  const std::string who = absl::StrCat("client ", Quote(client.name), ": ");
  Require(!client.name.empty() && client.name.size() <= 64, kTarget, who + "name length");
  for (char c : client.name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') {
      Violation(kTarget, who + "name character");
    }
  }
  Require(!client.client_id.empty(), kTarget, who + "empty client_id");
  Require(client.client_secret == secret, kTarget,
          who + "the secret is not the source's without its newline");
  Require(!absl::StrContains(client.secret_source, secret), kTarget,
          who + "secret_source holds the secret");
  Require(!client.credential_fingerprint.empty() &&
              !absl::StrContains(client.credential_fingerprint, secret),
          kTarget, who + "bad credential fingerprint");

  for (size_t i = 0; i < client.scopes.size(); ++i) {
    const std::string& scope = client.scopes[i];
    Require(!scope.empty() && scope.find_first_of(" \t\r\n") == std::string::npos, kTarget,
            who + absl::StrCat("scope ", Quote(scope), " not normalized"));
    Require(i == 0 || client.scopes[i - 1] < scope, kTarget, who + "scopes not sorted, unique");
    Require(!IsUserScope(scope), kTarget, who + absl::StrCat("user scope ", Quote(scope)));
  }

  // A client secret never goes over plain http to another machine unless explicitly allowed.
  for (const std::string* url : {&client.authority, &client.token_endpoint}) {
    if (url->empty()) continue;
    absl::StatusOr<ParsedUrl> parsed = ParseHttpUrl(*url);
    Require(parsed.ok(), kTarget, who + absl::StrCat("accepted URL ", Quote(*url)));
    Require(parsed->scheme == "https" || IsLoopbackHost(parsed->host) || client.allow_insecure_http,
            kTarget, who + absl::StrCat("plain http to ", Quote(*url)));
  }
  Require(!client.authority.empty(), kTarget, who + "no authority");

  Require(client.min_validity >= absl::ZeroDuration() && client.min_validity <= absl::Hours(24),
          kTarget, who + "min_validity out of range");
  Require(client.default_token_lifetime >= absl::Seconds(10) &&
              client.default_token_lifetime <= absl::Hours(24),
          kTarget, who + "default_token_lifetime out of range");
  Require(client.http.timeout >= absl::Milliseconds(100) && client.http.timeout <= absl::Minutes(5),
          kTarget, who + "http.timeout out of range");
  Require(
      client.http.max_response_bytes >= (16 << 10) && client.http.max_response_bytes <= (64 << 20),
      kTarget, who + "http.max_response_bytes out of range");
}

void CheckConfig(const Config& config, absl::string_view secret) {
  Require(!config.listen.empty(), kTarget, "empty listen address");
  Require(!config.clients.empty(), kTarget, "a config without clients");
  for (size_t i = 0; i < config.clients.size(); ++i) {
    CheckClient(config.clients[i], secret);
    Require(config.FindClient(config.clients[i].name) == &config.clients[i], kTarget,
            absl::StrCat("client name ", Quote(config.clients[i].name), " used twice"));
  }
}

void FuzzOne(absl::string_view text) {
  absl::StatusOr<Config> config = ParseConfig(text, FixedSecrets(kPlantedSecret));
  absl::StatusOr<Config> other = ParseConfig(text, FixedSecrets(kOtherSecret));

  Require(config.status() == other.status() || (config.ok() && other.ok()), kTarget,
          absl::StrCat("the outcome depends on the secret: ", Quote(config.status().ToString()),
                       " vs ", Quote(other.status().ToString())));
  if (!config.ok()) {
    Require(config.status().code() == absl::StatusCode::kInvalidArgument, kTarget,
            absl::StrCat("unexpected code: ", Quote(config.status().ToString())));
    // The text may spell the secret itself (it is then not a leak), possibly \u-escaped.
    const bool input_may_spell_secret =
        absl::StrContains(text, "SECRET") || absl::StrContains(text, "\\");
    Require(input_may_spell_secret || !absl::StrContains(config.status().message(), "FUZZ-SECRET"),
            kTarget,
            absl::StrCat("the error holds the secret: ", Quote(config.status().message())));
    return;
  }

  CheckConfig(*config, kPlantedSecret);
  CheckConfig(*other, kOtherSecret);
  for (size_t i = 0; i < config->clients.size(); ++i) {
    Require(config->clients[i].credential_fingerprint != other->clients[i].credential_fingerprint,
            kTarget, "a rotated secret keeps the credential fingerprint");
  }
}

}  // namespace
}  // namespace agentauth::fuzzing

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return agentauth::fuzzing::RunGuarded(
      "config", data, size, [](absl::string_view input) { agentauth::fuzzing::FuzzOne(input); });
}
