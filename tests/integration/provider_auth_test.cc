// Every client authentication method end to end against the development identity provider
// (oidc-provider) configured to require it: the config as agentauthd reads it, the real
// ProviderClient, libcurl over TLS on loopback. Keys and certificates are made for the run.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/agentauth_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/app/agentauth_server.h"
#include "server/common/clock.h"
#include "server/common/random.h"
#include "server/config/config.h"
#include "server/http/curl_http_client.h"
#include "server/metrics/metrics.h"
#include "server/provider/provider_client.h"
#include "tests/testing/captured_log.h"
#include "tests/testing/dev_idp.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_scheduler.h"
#include "tests/testing/fault_provider.h"
#include "tests/testing/status_printing.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_keys.h"

namespace agentauth {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kJwtSecret[] = "client-secret-jwt-secret-of-at-least-32-bytes";
constexpr char kCertificateSubject[] = "agentauth-mtls-agent";

nlohmann::json JwtClaims(const std::string& token) {
  const std::vector<std::string> parts = absl::StrSplit(token, '.');
  std::string payload;
  if (parts.size() != 3 || !absl::WebSafeBase64Unescape(parts[1], &payload)) return {};
  return nlohmann::json::parse(payload, nullptr, false);
}

// What every test of this file shares: the keys, the certificates and one dev IdP on https that
// knows a client per method.
struct Provider {
  testing::TempDir dir;
  std::string server_ca_file;
  std::string rsa_key_file;
  std::string ec_key_file;
  std::string unregistered_key_file;
  testing::TestCertificateAuthority::ServerCertificate client_certificate;
  testing::TestCertificateAuthority::ServerCertificate untrusted_certificate;
  std::unique_ptr<testing::DevIdp> idp;
};

std::string WritePrivate(const testing::TempDir& dir, const std::string& name,
                         const std::string& content) {
  return dir.Write(name, content);  // 0600.
}

absl::StatusOr<std::unique_ptr<Provider>> StartProvider() {
  auto provider = std::make_unique<Provider>();
  const std::string& dir = provider->dir.path();

  absl::StatusOr<testing::TestCertificateAuthority> server_ca =
      testing::TestCertificateAuthority::Create(dir, "server");
  absl::StatusOr<testing::TestCertificateAuthority> client_ca =
      testing::TestCertificateAuthority::Create(dir, "clients");
  absl::StatusOr<testing::TestCertificateAuthority> rogue_ca =
      testing::TestCertificateAuthority::Create(dir, "rogue");
  for (const auto* ca : {&server_ca, &client_ca, &rogue_ca}) {
    if (!ca->ok()) return ca->status();
  }
  absl::StatusOr<testing::TestCertificateAuthority::ServerCertificate> server_certificate =
      server_ca->Issue("idp", {"127.0.0.1"});
  absl::StatusOr<testing::TestCertificateAuthority::ServerCertificate> client_certificate =
      client_ca->IssueClient("agent", kCertificateSubject, {});
  // The same subject from a CA the provider does not trust.
  absl::StatusOr<testing::TestCertificateAuthority::ServerCertificate> untrusted_certificate =
      rogue_ca->IssueClient("rogue", kCertificateSubject, {});
  for (const auto* issued : {&server_certificate, &client_certificate, &untrusted_certificate}) {
    if (!issued->ok()) return issued->status();
  }
  for (const auto* issued : {&*client_certificate, &*untrusted_certificate}) {
    chmod(issued->key_file.c_str(), 0600);
  }
  provider->server_ca_file = server_ca->certificate_file();
  provider->client_certificate = *client_certificate;
  provider->untrusted_certificate = *untrusted_certificate;

  const std::string rsa_key = testing::NewRsaKeyPem();
  const std::string ec_key = testing::NewEcKeyPem();
  provider->rsa_key_file = WritePrivate(provider->dir, "rsa.key", rsa_key);
  provider->ec_key_file = WritePrivate(provider->dir, "ec.key", ec_key);
  provider->unregistered_key_file =
      WritePrivate(provider->dir, "unregistered.key", testing::NewRsaKeyPem());
  const std::string rsa_public = provider->dir.Write("rsa.pub", testing::PublicKeyPem(rsa_key));
  const std::string ec_public = provider->dir.Write("ec.pub", testing::PublicKeyPem(ec_key));

  // Each client requires its method (and, for the key clients, one algorithm).
  const nlohmann::json clients = nlohmann::json::array({
      {{"client_id", "jwt-agent"},
       {"client_secret", kJwtSecret},
       {"token_endpoint_auth_method", "client_secret_jwt"}},
      {{"client_id", "rs256-agent"},
       {"token_endpoint_auth_method", "private_key_jwt"},
       {"token_endpoint_auth_signing_alg", "RS256"},
       {"public_key_files", {{{"file", rsa_public}, {"kid", "rsa-1"}}}}},
      {{"client_id", "ps256-agent"},
       {"token_endpoint_auth_method", "private_key_jwt"},
       {"token_endpoint_auth_signing_alg", "PS256"},
       {"public_key_files", {{{"file", rsa_public}, {"kid", "rsa-1"}}}}},
      {{"client_id", "es256-agent"},
       {"token_endpoint_auth_method", "private_key_jwt"},
       {"token_endpoint_auth_signing_alg", "ES256"},
       {"public_key_files", {{{"file", ec_public}, {"kid", "ec-1"}}}}},
      {{"client_id", "mtls-agent"},
       {"token_endpoint_auth_method", "tls_client_auth"},
       {"tls_client_auth_subject_dn", absl::StrCat("CN=", kCertificateSubject)}},
  });
  testing::DevIdp::Files options;
  options.clients_file = provider->dir.Write("clients.json", clients.dump());
  options.tls_certificate_file = server_certificate->certificate_file;
  options.tls_key_file = server_certificate->key_file;
  options.client_ca_file = client_ca->certificate_file();
  absl::StatusOr<std::unique_ptr<testing::DevIdp>> idp = testing::DevIdp::Start({}, options);
  if (!idp.ok()) return idp.status();
  provider->idp = *std::move(idp);
  return provider;
}

class ProviderAuthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<Provider>> started = StartProvider();
    ASSERT_TRUE(started.ok()) << started.status();
    provider_ = started->release();
  }
  static void TearDownTestSuite() {
    delete provider_;
    provider_ = nullptr;
  }

  ProviderAuthTest() : logger_(clock_, LogLevel::kDebug, LogFormat::kText, log_.Sink()) {}

  // The client as agentauthd would load it from `fields` (JSON members after client_id).
  ClientConfig Client(const std::string& client_id, const std::string& fields) {
    const std::string text = absl::StrCat(
        R"({"defaults": {"authority": ")", provider_->idp->issuer(), R"(", "http": {"ca_file": ")",
        provider_->server_ca_file, R"(", "timeout": "10s"}}, "clients": [{"name": "agent",
        "client_id": ")",
        client_id, R"(", "scopes": ["api.read"], )", fields, "}]}");
    absl::StatusOr<Config> config = ParseConfig(text, SecretSources::Real());
    EXPECT_TRUE(config.ok()) << config.status();
    return config.ok() ? config->clients[0] : ClientConfig();
  }

  std::string SecretFile(const std::string& secret) {
    return temp_.Write(absl::StrCat("secret-", ++files_), secret + "\n");
  }

  absl::StatusOr<ParsedToken> Fetch(const ClientConfig& client) {
    return provider_client_.FetchToken(client, client.scopes, "");
  }

  void ExpectToken(const absl::StatusOr<ParsedToken>& token, const std::string& client_id) {
    ASSERT_TRUE(token.ok()) << token.status();
    EXPECT_EQ(JwtClaims(token->access_token)["client_id"], client_id);
  }

  void ExpectRejected(const absl::StatusOr<ParsedToken>& token, const std::string& method) {
    ASSERT_FALSE(token.ok());
    EXPECT_EQ(token.status().code(), absl::StatusCode::kFailedPrecondition) << token.status();
    EXPECT_THAT(token.status().message(),
                AllOf(HasSubstr("invalid_client"), HasSubstr("auth_method " + method),
                      HasSubstr("the provider lists client_secret_basic, client_secret_post, "
                                "client_secret_jwt, private_key_jwt, tls_client_auth")));
  }

  static Provider* provider_;
  testing::TempDir temp_;
  int files_ = 0;
  testing::FakeClock clock_;
  testing::CapturedLog log_;
  Logger logger_;
  CurlHttpClient http_;
  Metrics metrics_{"test"};
  SystemRandom random_;
  ProviderClient provider_client_{http_, clock_, logger_, metrics_, random_};
};

Provider* ProviderAuthTest::provider_ = nullptr;

TEST_F(ProviderAuthTest, ClientSecretJwtGetsAToken) {
  const ClientConfig client =
      Client("jwt-agent", absl::StrCat(R"("client_secret_file": ")", SecretFile(kJwtSecret), R"(",
      "auth_method": "client_secret_jwt")"));

  ExpectToken(Fetch(client), "jwt-agent");
}

TEST_F(ProviderAuthTest, ClientSecretJwtWithAWrongSecretIsInvalidClient) {
  const ClientConfig client =
      Client("jwt-agent", absl::StrCat(R"("client_secret_file": ")",
                                       SecretFile("a-wrong-secret-of-at-least-32-bytes-too"),
                                       R"(", "auth_method": "client_secret_jwt")"));

  absl::StatusOr<ParsedToken> token = Fetch(client);

  ExpectRejected(token, "client_secret_jwt");
  EXPECT_THAT(token.status().message(), Not(HasSubstr("a-wrong-secret")));
}

struct KeyCase {
  std::string name;
  std::string client_id;
  std::string algorithm;
  bool ec;
};

class PrivateKeyJwtEndToEndTest : public ProviderAuthTest,
                                  public ::testing::WithParamInterface<KeyCase> {};

TEST_P(PrivateKeyJwtEndToEndTest, RegisteredKeyGetsAToken) {
  const KeyCase& key = GetParam();
  const ClientConfig client =
      Client(key.client_id,
             absl::StrCat(R"("private_key_file": ")",
                          key.ec ? provider_->ec_key_file : provider_->rsa_key_file,
                          R"(", "signing_algorithm": ")", key.algorithm, R"(", "key_id": ")",
                          key.ec ? "ec-1" : "rsa-1", R"(", "auth_method": "private_key_jwt")"));

  ExpectToken(Fetch(client), key.client_id);
}

TEST_P(PrivateKeyJwtEndToEndTest, UnregisteredKeyIsInvalidClient) {
  const KeyCase& key = GetParam();
  const std::string unregistered = key.ec
                                       ? WritePrivate(temp_, "other-ec.key", testing::NewEcKeyPem())
                                       : provider_->unregistered_key_file;
  const ClientConfig client =
      Client(key.client_id, absl::StrCat(R"("private_key_file": ")", unregistered,
                                         R"(", "signing_algorithm": ")", key.algorithm, R"(")"));

  ExpectRejected(Fetch(client), "private_key_jwt");
}

INSTANTIATE_TEST_SUITE_P(Algorithms, PrivateKeyJwtEndToEndTest,
                         ::testing::Values(KeyCase{"RS256", "rs256-agent", "RS256", false},
                                           KeyCase{"PS256", "ps256-agent", "PS256", false},
                                           KeyCase{"ES256", "es256-agent", "ES256", true}),
                         [](const ::testing::TestParamInfo<KeyCase>& param_info) {
                           return param_info.param.name;
                         });

TEST_F(ProviderAuthTest, KeyAloneIsEnoughForTheAutomaticChoice) {
  const ClientConfig client = Client(
      "es256-agent", absl::StrCat(R"("private_key_file": ")", provider_->ec_key_file, R"(")"));

  ASSERT_EQ(client.auth_method, AuthMethod::kAutomatic);
  ExpectToken(Fetch(client), "es256-agent");
}

TEST_F(ProviderAuthTest, TlsClientAuthGetsAToken) {
  const ClientConfig client = Client(
      "mtls-agent",
      absl::StrCat(R"("tls_client_cert_file": ")", provider_->client_certificate.certificate_file,
                   R"(", "tls_client_key_file": ")", provider_->client_certificate.key_file,
                   R"(", "auth_method": "tls_client_auth")"));

  ExpectToken(Fetch(client), "mtls-agent");
}

TEST_F(ProviderAuthTest, TlsClientAuthWithAnUntrustedCertificateIsInvalidClient) {
  const ClientConfig client =
      Client("mtls-agent", absl::StrCat(R"("tls_client_cert_file": ")",
                                        provider_->untrusted_certificate.certificate_file,
                                        R"(", "tls_client_key_file": ")",
                                        provider_->untrusted_certificate.key_file, R"(")"));

  ExpectRejected(Fetch(client), "tls_client_auth");
}

TEST_F(ProviderAuthTest, SecretForAKeyClientNamesTheMethodAndTheListedOnes) {
  const ClientConfig client = Client(
      "rs256-agent", absl::StrCat(R"("client_secret_file": ")", SecretFile("guess"), R"(")"));

  ExpectRejected(Fetch(client), "client_secret_basic");
}

// The same logins through agentauth itself: the gRPC service in process, called by the C++
// client, with a config holding one client per method.
TEST_F(ProviderAuthTest, EveryMethodServesTokensThroughTheService) {
  const std::string config_text = absl::StrCat(
      R"({"listen": "127.0.0.1:0", "metrics_listen": "", "prewarm": false,
          "defaults": {"authority": ")",
      provider_->idp->issuer(), R"(", "http": {"ca_file": ")", provider_->server_ca_file,
      R"("}}, "clients": [
        {"name": "jwt", "client_id": "jwt-agent", "auth_method": "client_secret_jwt",
         "client_secret_file": ")",
      SecretFile(kJwtSecret), R"("},
        {"name": "ps256", "client_id": "ps256-agent", "signing_algorithm": "PS256",
         "private_key_file": ")",
      provider_->rsa_key_file, R"("},
        {"name": "es256", "client_id": "es256-agent", "private_key_file": ")",
      provider_->ec_key_file, R"(", "key_id": "ec-1"},
        {"name": "mtls", "client_id": "mtls-agent", "tls_client_cert_file": ")",
      provider_->client_certificate.certificate_file, R"(", "tls_client_key_file": ")",
      provider_->client_certificate.key_file, R"("}]})");
  absl::StatusOr<Config> config = ParseConfig(config_text, SecretSources::Real());
  ASSERT_TRUE(config.ok()) << config.status();
  testing::FakeScheduler scheduler(clock_);
  absl::StatusOr<std::unique_ptr<AgentAuthServer>> server =
      AgentAuthServer::Start(*std::move(config), ServerOptions{},
                             {clock_, logger_, http_, scheduler, random_, SecretSources::Real()});
  ASSERT_TRUE(server.ok()) << server.status();
  agentauth::Client caller((*server)->address());

  for (const auto& [name, client_id] :
       std::vector<std::pair<std::string, std::string>>{{"jwt", "jwt-agent"},
                                                        {"ps256", "ps256-agent"},
                                                        {"es256", "es256-agent"},
                                                        {"mtls", "mtls-agent"}}) {
    absl::StatusOr<v1::GetAccessTokenResponse> token =
        caller.GetAccessToken({.client = name, .timeout = absl::Seconds(20)});

    ASSERT_TRUE(token.ok()) << name << ": " << token.status();
    EXPECT_EQ(JwtClaims(token->access_token())["client_id"], client_id) << name;
  }
  for (const std::string& line : log_.Lines()) {
    EXPECT_THAT(line, Not(HasSubstr(kJwtSecret)));
    EXPECT_THAT(line, Not(HasSubstr("PRIVATE KEY")));
  }
}

// A rotated key file is picked up by the watcher and gets its own cache entries: the token of the
// old key is not served for the new one, which the provider does not know.
TEST_F(ProviderAuthTest, RotatedKeyGetsNewCacheEntriesThroughTheService) {
  const std::string key_file = WritePrivate(temp_, "rotating.key", "");
  std::filesystem::copy_file(provider_->ec_key_file, key_file,
                             std::filesystem::copy_options::overwrite_existing);
  const std::string config_text = absl::StrCat(
      R"({"listen": "127.0.0.1:0", "metrics_listen": "", "prewarm": false,
          "defaults": {"authority": ")",
      provider_->idp->issuer(), R"(", "http": {"ca_file": ")", provider_->server_ca_file,
      R"("}}, "clients": [{"name": "es256", "client_id": "es256-agent",
                           "private_key_file": ")",
      key_file, R"("}]})");
  absl::StatusOr<Config> config = ParseConfig(config_text, SecretSources::Real());
  ASSERT_TRUE(config.ok()) << config.status();
  testing::FakeScheduler scheduler(clock_);
  absl::StatusOr<std::unique_ptr<AgentAuthServer>> server =
      AgentAuthServer::Start(*std::move(config), ServerOptions{},
                             {clock_, logger_, http_, scheduler, random_, SecretSources::Real()});
  ASSERT_TRUE(server.ok()) << server.status();
  agentauth::Client caller((*server)->address());
  const TokenOptions request{.client = "es256", .timeout = absl::Seconds(20)};
  absl::StatusOr<v1::GetAccessTokenResponse> before = caller.GetAccessToken(request);

  std::ofstream(key_file, std::ios::trunc) << testing::NewEcKeyPem();
  const int rotated = (*server)->CheckSecretsNow();
  absl::StatusOr<v1::GetAccessTokenResponse> after = caller.GetAccessToken(request);

  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(rotated, 1);
  ASSERT_FALSE(after.ok()) << "the old key's token was served for the new key";
  EXPECT_EQ(after.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(after.status().message(),
              AllOf(HasSubstr("invalid_client"), HasSubstr("auth_method private_key_jwt")));
}

}  // namespace
}  // namespace agentauth
