#include "server/config/config.h"

#include <map>
#include <string>

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_printing.h"

namespace agentauth {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Files and environment variables exist only in these maps.
class ConfigTest : public ::testing::Test {
 protected:
  ConfigTest() {
    files_["/secrets/reports"] = "s3cr3t\n";
    files_["/etc/ca.pem"] = "-----BEGIN CERTIFICATE-----";
    env_["REPORTS_SECRET"] = "from-env";
    sources_.read_file = [this](const std::string& path) -> absl::StatusOr<std::string> {
      const auto found = files_.find(path);
      if (found == files_.end()) {
        return absl::NotFoundError("cannot read \"" + path + "\": No such file or directory");
      }
      return found->second;
    };
    sources_.get_env = [this](const std::string& name) -> std::optional<std::string> {
      const auto found = env_.find(name);
      if (found == env_.end()) return std::nullopt;
      return found->second;
    };
  }

  // A valid config with `client_fields` spliced into the one client's object.
  absl::StatusOr<Config> ParseWithClient(const std::string& client_fields,
                                         const std::string& top_level = "") {
    const std::string text = absl::StrReplaceAll(
        R"({ TOP "clients": [{"name": "reports", "client_id": "reports-agent",
             "client_secret_file": "/secrets/reports" FIELDS}]})",
        {{"TOP", top_level}, {"FIELDS", client_fields}});
    return ParseConfig(text, sources_);
  }

  void ExpectError(const absl::StatusOr<Config>& config, const std::string& message) {
    ASSERT_FALSE(config.ok());
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(config.status().message(), message);
  }

  std::map<std::string, std::string> files_;
  std::map<std::string, std::string> env_;
  SecretSources sources_;
};

TEST_F(ConfigTest, MinimalClientGetsTheDocumentedDefaults) {
  absl::StatusOr<Config> config = ParseWithClient("");

  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen, "127.0.0.1:50051");
  ASSERT_EQ(config->clients.size(), 1u);
  const ClientConfig& client = config->clients[0];
  EXPECT_EQ(client.authority, "https://ims.bentley.com");
  EXPECT_EQ(client.min_validity, absl::Seconds(60));
  EXPECT_EQ(client.http.timeout, absl::Seconds(10));
  EXPECT_EQ(client.auth_method, AuthMethod::kAutomatic);
  EXPECT_EQ(client.client_secret, "s3cr3t") << "the newline of the secret file is not the secret";
  EXPECT_EQ(client.secret_source, "file /secrets/reports");
  EXPECT_FALSE(client.credential_fingerprint.empty());
}

TEST_F(ConfigTest, TheIssueExampleIsAccepted) {
  const std::string text = R"({
    "listen": "127.0.0.1:50051",
    "defaults": {"authority": "https://ims.bentley.com", "min_validity": "60s",
                 "http": {"timeout": "10s"}},
    "clients": [
      {"name": "reports", "client_id": "reports-agent",
       "client_secret_file": "/secrets/reports", "scopes": ["itwin-platform"]}
    ]
  })";

  absl::StatusOr<Config> config = ParseConfig(text, sources_);

  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->clients[0].scopes, ElementsAre("itwin-platform"));
}

TEST_F(ConfigTest, ClientSettingsOverrideDefaultsFieldByField) {
  absl::StatusOr<Config> config =
      ParseWithClient(R"(, "min_validity": "5m", "http": {"ca_file": "/etc/ca.pem"})",
                      R"("defaults": {"min_validity": "2m", "http": {"timeout": "3s"},
                      "authority": "https://idp.example.test/app/o/a1/"},)");

  ASSERT_TRUE(config.ok()) << config.status();
  const ClientConfig& client = config->clients[0];
  EXPECT_EQ(client.min_validity, absl::Minutes(5));
  EXPECT_EQ(client.http.timeout, absl::Seconds(3));
  EXPECT_EQ(client.http.ca_file, "/etc/ca.pem");
  EXPECT_EQ(client.authority, "https://idp.example.test/app/o/a1/");
}

TEST_F(ConfigTest, RefreshAndRetrySettingsHaveDefaultsAndOverrides) {
  absl::StatusOr<Config> config =
      ParseWithClient(R"(, "refresh_at": 0.5, "retry": {"max_attempts": 3})",
                      R"("prewarm": false, "max_concurrent_fetches": 2,
         "defaults": {"retry": {"base": "2s", "cap": "30s"}, "negative_cache_ttl": "20s",
                      "discovery_ttl": "10m"},)");

  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->prewarm);
  EXPECT_EQ(config->max_concurrent_fetches, 2);
  const ClientConfig& client = config->clients[0];
  EXPECT_EQ(client.refresh.refresh_at, 0.5);
  EXPECT_EQ(client.refresh.retry.base, absl::Seconds(2));
  EXPECT_EQ(client.refresh.retry.cap, absl::Seconds(30));
  EXPECT_EQ(client.refresh.retry.max_attempts, 3);
  EXPECT_EQ(client.refresh.retry.max_retry_after, absl::Minutes(5));
  EXPECT_EQ(client.refresh.negative_cache_ttl, absl::Seconds(20));
  EXPECT_EQ(client.discovery_ttl, absl::Minutes(10));
}

TEST_F(ConfigTest, UrlPrefixIsPutInFrontOfTheAuthorityHost) {
  absl::StatusOr<Config> config = ParseWithClient(R"(, "url_prefix": "dev-")");

  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->clients[0].authority, "https://dev-ims.bentley.com");
}

TEST_F(ConfigTest, UrlPrefixFromDefaultsKeepsTheAuthorityPath) {
  absl::StatusOr<Config> config =
      ParseWithClient(R"(, "authority": "https://idp.example.test/tenant/")",
                      R"("defaults": {"url_prefix": "qa-"},)");

  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->clients[0].authority, "https://qa-idp.example.test/tenant/");
}

TEST_F(ConfigTest, SecretComesFromTheEnvironment) {
  absl::StatusOr<Config> config = ParseConfig(
      R"({"clients": [{"name": "r", "client_id": "id", "client_secret_env": "REPORTS_SECRET"}]})",
      sources_);

  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->clients[0].client_secret, "from-env");
  EXPECT_EQ(config->clients[0].secret_source, "environment variable REPORTS_SECRET");
}

TEST_F(ConfigTest, ScopesAreSplitDeduplicatedAndSorted) {
  absl::StatusOr<Config> config =
      ParseWithClient(R"(, "scopes": [" api.write  api.read ", "", "api.read"])");

  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->clients[0].scopes, ElementsAre("api.read", "api.write"));
}

TEST_F(ConfigTest, ScopesMayBeOneSpaceSeparatedString) {
  absl::StatusOr<Config> config = ParseWithClient(R"(, "scopes": "b a")");

  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->clients[0].scopes, ElementsAre("a", "b"));
}

TEST_F(ConfigTest, DifferentSecretsGiveDifferentFingerprints) {
  absl::StatusOr<Config> first = ParseWithClient("");
  files_["/secrets/reports"] = "rotated";
  absl::StatusOr<Config> second = ParseWithClient("");

  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_NE(first->clients[0].credential_fingerprint, second->clients[0].credential_fingerprint);
}

// Each rule, with the exact message a user sees.
struct RejectionCase {
  std::string name;
  std::string client_fields;
  std::string top_level;
  std::string message;
};

class ConfigRejectionTest : public ConfigTest,
                            public ::testing::WithParamInterface<RejectionCase> {};

TEST_P(ConfigRejectionTest, NamesThePathAndTheProblem) {
  ExpectError(ParseWithClient(GetParam().client_fields, GetParam().top_level), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Rules, ConfigRejectionTest,
    ::testing::Values(
        RejectionCase{"UserScope", R"(, "scopes": ["itwin-platform", "openid"])", "",
                      "clients[0].scopes[1]: client \"reports\" may not ask for scope "
                      "\"openid\": openid, email, profile and organization describe a "
                      "signed-in user, which an agent is not"},
        RejectionCase{"UserScopeInsideAString", R"(, "scopes": ["a", "b email"])", "",
                      "clients[0].scopes[1]: client \"reports\" may not ask for scope "
                      "\"email\": openid, email, profile and organization describe a "
                      "signed-in user, which an agent is not"},
        RejectionCase{"UserScopeHiddenByCarriageReturn", R"(, "scopes": ["a", "openid\r"])", "",
                      "clients[0].scopes[1]: client \"reports\" may not ask for scope "
                      "\"openid\": openid, email, profile and organization describe a "
                      "signed-in user, which an agent is not"},
        RejectionCase{"UserScopeInOtherCase", R"(, "scopes": "EMAIL")", "",
                      "clients[0].scopes: client \"reports\" may not ask for scope "
                      "\"EMAIL\": openid, email, profile and organization describe a "
                      "signed-in user, which an agent is not"},
        RejectionCase{"SignedPort", "", R"("listen": "127.0.0.1:+50062",)",
                      "listen: \"127.0.0.1:+50062\" is not an address such as "
                      "\"127.0.0.1:50051\" or \"unix:/run/a.sock\""},
        RejectionCase{"SizeAsDeepArray", R"(, "http": {"max_response_bytes": [[[[1]]]]})", "",
                      "clients[0].http.max_response_bytes: expected a whole number of bytes, got "
                      "an array"},
        RejectionCase{"ScopeNotAString", R"(, "scopes": ["a", 7])", "",
                      "clients[0].scopes[1]: expected a string, got a number"},
        RejectionCase{"UnknownClientKey", R"(, "min_valdity": "60s")", "",
                      "clients[0].min_valdity: unknown key; expected one of name, client_id, "
                      "client_secret_file, client_secret_env, scopes, token_endpoint, "
                      "allowed_callers, authority, url_prefix, auth_method, min_validity, "
                      "default_token_lifetime, allow_insecure_http, http, discovery_ttl, "
                      "refresh_at, negative_cache_ttl, retry, private_key_file, "
                      "signing_algorithm, key_id, tls_client_cert_file, tls_client_key_file"},
        RejectionCase{"UnknownTopLevelKey", "", R"("listen_address": "x",)",
                      "listen_address: unknown key; expected one of listen, listeners, "
                      "metrics_listen, prewarm, max_concurrent_fetches, secret_check_interval, "
                      "defaults, clients, caller_auth, limits"},
        RejectionCase{"UnknownHttpKey", R"(, "http": {"retries": 3})", "",
                      "clients[0].http.retries: unknown key; expected one of timeout, ca_file, "
                      "max_response_bytes"},
        RejectionCase{"DurationAsNumber", R"(, "min_validity": 60)", "",
                      "clients[0].min_validity: expected a duration string such as \"60s\" or "
                      "\"5m\", got a number"},
        RejectionCase{"DurationUnparseable", R"(, "min_validity": "a minute")", "",
                      "clients[0].min_validity: \"a minute\" is not a duration; write e.g. "
                      "\"60s\", \"5m\" or \"1h30m\""},
        RejectionCase{"NegativeMinValidity", R"(, "min_validity": "-5s")", "",
                      "clients[0].min_validity: -5s is out of range; expected 0 to 24h"},
        RejectionCase{"ZeroTimeout", "", R"("defaults": {"http": {"timeout": "0s"}},)",
                      "defaults.http.timeout: 0s is out of range; expected 100ms to 5m"},
        RejectionCase{"BothSecretSources", R"(, "client_secret_env": "REPORTS_SECRET")", "",
                      "clients[0]: set only one of client_secret_file or client_secret_env"},
        RejectionCase{"UnknownAuthMethod", R"(, "auth_method": "private_key")", "",
                      "clients[0].auth_method: unknown method \"private_key\"; expected "
                      "client_secret_basic, client_secret_post, client_secret_jwt, "
                      "private_key_jwt or tls_client_auth"},
        RejectionCase{"PlainHttpAuthority", R"(, "authority": "http://idp.example.test")", "",
                      "clients[0].authority: \"http://idp.example.test\" uses plain http to a "
                      "host other than loopback, which would send the client secret "
                      "unencrypted; use https or set allow_insecure_http"},
        RejectionCase{"AuthorityNotAUrl", R"(, "authority": "idp.example.test")", "",
                      "clients[0].authority: \"idp.example.test\" is not an absolute URL "
                      "(expected https://host/...)"},
        RejectionCase{"AuthorityWithQuery", R"(, "authority": "https://idp.example.test/?a=b")", "",
                      "clients[0].authority: \"https://idp.example.test/?a=b\" must not have a "
                      "query or a fragment"},
        RejectionCase{"TokenEndpointNotHttp", R"(, "token_endpoint": "ftp://idp/token")", "",
                      "clients[0].token_endpoint: \"ftp://idp/token\" is not an http or https "
                      "URL"},
        RejectionCase{"BadUrlPrefix", R"(, "url_prefix": "dev/")", "",
                      "clients[0].url_prefix: \"dev/\" is not a host prefix such as \"dev-\""},
        RejectionCase{"RefreshAtOutOfRange", R"(, "refresh_at": 1.5)", "",
                      "clients[0].refresh_at: 1.5 is out of range; expected 0.1 to 0.95"},
        RejectionCase{"RetryAttemptsNotANumber", R"(, "retry": {"max_attempts": "3"})", "",
                      "clients[0].retry.max_attempts: expected a whole number from 1 to 1000, "
                      "got \"3\""},
        RejectionCase{"RetryCapBelowBase", R"(, "retry": {"base": "10s", "cap": "1s"})", "",
                      "clients[0].retry.cap: the cap 1s is below the base 10s"},
        RejectionCase{"UnknownRetryKey", R"(, "retry": {"jitter": 1})", "",
                      "clients[0].retry.jitter: unknown key; expected one of base, cap, "
                      "max_attempts, max_retry_after"},
        RejectionCase{"FractionalFetches", "", R"("max_concurrent_fetches": 2.5,)",
                      "max_concurrent_fetches: expected a whole number from 1 to 1024"},
        RejectionCase{"PrewarmNotBool", "", R"("prewarm": "yes",)",
                      "prewarm: expected true or false, got a string"},
        RejectionCase{"BadListen", "", R"("listen": "localhost",)",
                      "listen: \"localhost\" is not an address such as \"127.0.0.1:50051\" or "
                      "\"unix:/run/a.sock\""},
        RejectionCase{"MissingCaFile", R"(, "http": {"ca_file": "/nope.pem"})", "",
                      "clients[0].http.ca_file: cannot read \"/nope.pem\": No such file or "
                      "directory"}),
    [](const ::testing::TestParamInfo<RejectionCase>& param_info) {
      return param_info.param.name;
    });

TEST_F(ConfigTest, MissingSecretFileNamesTheFile) {
  ExpectError(ParseConfig(R"({"clients": [{"name": "r", "client_id": "id",
                             "client_secret_file": "/secrets/none"}]})",
                          sources_),
              "clients[0].client_secret_file: cannot read \"/secrets/none\": No such file or "
              "directory");
}

TEST_F(ConfigTest, EmptySecretIsRejected) {
  files_["/secrets/empty"] = "\n";

  ExpectError(ParseConfig(R"({"clients": [{"name": "r", "client_id": "id",
                             "client_secret_file": "/secrets/empty"}]})",
                          sources_),
              "clients[0].client_secret_file: the client secret from file /secrets/empty is "
              "empty");
}

TEST_F(ConfigTest, WhitespaceOnlySecretIsRejected) {
  files_["/secrets/blank"] = " \t \r\n";

  ExpectError(ParseConfig(R"({"clients": [{"name": "r", "client_id": "id",
                             "client_secret_file": "/secrets/blank"}]})",
                          sources_),
              "clients[0].client_secret_file: the client secret from file /secrets/blank is "
              "empty");
}

TEST_F(ConfigTest, SecretPastedAsVariableNameIsNotRepeated) {
  ExpectError(ParseConfig(R"({"clients": [{"name": "r", "client_id": "id",
                             "client_secret_env": "my-Real-Secret-123"}]})",
                          sources_),
              "clients[0].client_secret_env: not a valid environment variable name (letters, "
              "digits and '_', not starting with a digit)");
}

TEST_F(ConfigTest, UnsetSecretVariableIsRejected) {
  ExpectError(ParseConfig(R"({"clients": [{"name": "r", "client_id": "id",
                             "client_secret_env": "NOT_SET"}]})",
                          sources_),
              "clients[0].client_secret_env: environment variable NOT_SET is not set");
}

TEST_F(ConfigTest, DuplicateClientNamesAreRejected) {
  ExpectError(ParseConfig(R"({"clients": [
      {"name": "r", "client_id": "a", "client_secret_file": "/secrets/reports"},
      {"name": "r", "client_id": "b", "client_secret_file": "/secrets/reports"}]})",
                          sources_),
              "clients[1].name: client name \"r\" is used twice");
}

TEST_F(ConfigTest, ClientWithoutClientIdIsRejected) {
  ExpectError(ParseConfig(R"({"clients": [{"name": "r", "client_secret_env": "X"}]})", sources_),
              "clients[0].client_id: required for client \"r\"");
}

TEST_F(ConfigTest, ConfigWithoutClientsIsRejected) {
  ExpectError(ParseConfig(R"({"clients": []})", sources_),
              "clients: expected an array with at least one client");
}

TEST_F(ConfigTest, InvalidJsonSaysWhere) {
  absl::StatusOr<Config> config = ParseConfig("{\"clients\": [", sources_);

  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(),
              HasSubstr("not valid JSON: parse error at line 1, column 14: syntax error"));
}

TEST_F(ConfigTest, InvalidClientNameIsRejected) {
  ExpectError(ParseWithClient(R"(, "name": "two words")"),
              "clients[0].name: \"two words\" is not a valid client name; use 1 to 64 letters, "
              "digits, '.', '-' or '_'");
}

TEST_F(ConfigTest, PlainHttpToLoopbackIsAllowed) {
  absl::StatusOr<Config> config = ParseWithClient(R"(, "authority": "http://127.0.0.1:8080")");

  ASSERT_TRUE(config.ok()) << config.status();
}

TEST_F(ConfigTest, PlainHttpElsewhereNeedsAnExplicitAllowance) {
  absl::StatusOr<Config> config =
      ParseWithClient(R"(, "authority": "http://idp.internal", "allow_insecure_http": true)");

  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->clients[0].allow_insecure_http);
}

TEST_F(ConfigTest, SecretNeverAppearsInAnError) {
  files_["/secrets/reports"] = "TOPSECRET-VALUE";

  absl::StatusOr<Config> config = ParseWithClient(R"(, "auth_method": "nope")");

  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()), ::testing::Not(HasSubstr("TOPSECRET-VALUE")));
}

}  // namespace
}  // namespace agentauth

namespace agentauth {
namespace {

TEST(RealSecretSourcesTest, DevicesAndMissingFilesAreRefusedWithoutReadingThem) {
  const SecretSources sources = SecretSources::Real();

  EXPECT_EQ(sources.read_file("/dev/zero").status().message(),
            "\"/dev/zero\" is not a regular file");
  EXPECT_EQ(sources.read_file("/nonexistent/secret").status().message(),
            "cannot read \"/nonexistent/secret\": No such file or directory");
  EXPECT_EQ(LoadConfigFile("/dev/zero", sources).status().message(),
            "config: \"/dev/zero\" is not a regular file");
}

}  // namespace
}  // namespace agentauth
