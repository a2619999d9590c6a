#include "server/callers/service_account_verifier.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/captured_log.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_http_client.h"
#include "tests/testing/test_jwt.h"

namespace agentauth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::ServiceAccountClaims;
using testing::TestSigningKey;

constexpr char kIssuer[] = "https://kubernetes.default.svc.cluster.local";
constexpr char kAudience[] = "agentauth";

// Keys are made once: RSA key generation takes a while.
const TestSigningKey& RsaKey() {
  static const auto* key = new TestSigningKey(TestSigningKey::Type::kRsa2048, "rsa-1");
  return *key;
}
const TestSigningKey& EcKey() {
  static const auto* key = new TestSigningKey(TestSigningKey::Type::kEcP256, "ec-1");
  return *key;
}
const TestSigningKey& OtherEcKey() {
  static const auto* key = new TestSigningKey(TestSigningKey::Type::kEcP256, "ec-1");
  return *key;
}

class ServiceAccountVerifierTest : public ::testing::Test {
 protected:
  ServiceAccountVerifierTest()
      : logger_(clock_, LogLevel::kDebug, LogFormat::kText, log_.Sink()),
        jwks_(testing::JwksOf({&RsaKey(), &EcKey()})) {}

  std::unique_ptr<ServiceAccountVerifier> Verifier(KubernetesCallerAuth config = {}) {
    config.issuer = kIssuer;
    config.audience = kAudience;
    if (config.jwks_uri.empty()) config.jwks_file = "/etc/agentauth/jwks.json";
    return std::make_unique<ServiceAccountVerifier>(
        config, http_, clock_, logger_, [this](const std::string&) -> absl::StatusOr<std::string> {
          ++file_reads_;
          if (!jwks_.ok()) return jwks_.status();
          return *jwks_;
        });
  }

  nlohmann::json Claims() {
    return ServiceAccountClaims(kIssuer, kAudience, "reports", "builder", clock_.Now());
  }

  testing::FakeClock clock_;
  testing::CapturedLog log_;
  Logger logger_;
  testing::FakeHttpClient http_;
  absl::StatusOr<std::string> jwks_;
  int file_reads_ = 0;
};

TEST_F(ServiceAccountVerifierTest, AcceptsRs256AndEs256TokensAsServiceAccountIdentities) {
  auto verifier = Verifier();

  absl::StatusOr<std::string> rsa = verifier->Verify(RsaKey().Sign(Claims()));
  absl::StatusOr<std::string> ec = verifier->Verify(EcKey().Sign(Claims()));

  ASSERT_TRUE(rsa.ok()) << rsa.status();
  EXPECT_EQ(*rsa, "serviceaccount:reports/builder");
  ASSERT_TRUE(ec.ok()) << ec.status();
  EXPECT_EQ(*ec, "serviceaccount:reports/builder");
}

TEST_F(ServiceAccountVerifierTest, RejectsAnExpiredTokenBeyondTheLeeway) {
  auto verifier = Verifier();
  const std::string token = EcKey().Sign(Claims());

  clock_.Advance(absl::Hours(1) + absl::Seconds(20));
  EXPECT_TRUE(verifier->Verify(token).ok());
  clock_.Advance(absl::Seconds(20));
  absl::StatusOr<std::string> expired = verifier->Verify(token);

  EXPECT_EQ(expired.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(expired.status().message(), HasSubstr("service account token rejected: expired at"));
}

TEST_F(ServiceAccountVerifierTest, RejectsATokenNotYetValid) {
  auto verifier = Verifier();
  nlohmann::json claims = Claims();
  claims["nbf"] = absl::ToUnixSeconds(clock_.Now() + absl::Minutes(5));

  absl::StatusOr<std::string> early = verifier->Verify(EcKey().Sign(claims));

  EXPECT_THAT(early.status().message(), HasSubstr("not valid before"));
}

TEST_F(ServiceAccountVerifierTest, RejectsAnotherAudienceOrIssuer) {
  auto verifier = Verifier();
  nlohmann::json wrong_audience = Claims();
  wrong_audience["aud"] = {"https://kubernetes.default.svc"};
  nlohmann::json wrong_issuer = Claims();
  wrong_issuer["iss"] = "https://evil.example";

  absl::StatusOr<std::string> audience = verifier->Verify(EcKey().Sign(wrong_audience));
  absl::StatusOr<std::string> issuer = verifier->Verify(EcKey().Sign(wrong_issuer));

  EXPECT_EQ(audience.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(audience.status().message(),
              HasSubstr("its audience does not include \"agentauth\""));
  EXPECT_EQ(issuer.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(issuer.status().message(),
              HasSubstr("issuer \"https://evil.example\" is not the configured issuer"));
}

TEST_F(ServiceAccountVerifierTest, RejectsABadSignatureWithoutQuotingTheToken) {
  auto verifier = Verifier();
  // Same kid as a trusted key, different key: the signature cannot verify.
  const std::string forged = OtherEcKey().Sign(Claims());

  absl::StatusOr<std::string> result = verifier->Verify(forged);

  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(result.status().message(), HasSubstr("the signature does not verify"));
  EXPECT_THAT(result.status().message(), Not(HasSubstr(forged.substr(forged.rfind('.') + 1))));
}

TEST_F(ServiceAccountVerifierTest, RejectsAlgNoneAndHmac) {
  auto verifier = Verifier();
  const std::string token = EcKey().Sign(Claims());
  const std::string payload = token.substr(token.find('.') + 1);

  for (const char* header : {"eyJhbGciOiJub25lIn0", "eyJhbGciOiJIUzI1NiJ9"}) {
    absl::StatusOr<std::string> result = verifier->Verify(absl::StrCat(header, ".", payload));
    EXPECT_THAT(result.status().message(), HasSubstr("is not accepted (RS256 or ES256)"));
  }
}

TEST_F(ServiceAccountVerifierTest, AnUnknownKidRefetchesAtMostOncePerInterval) {
  auto verifier = Verifier();
  const TestSigningKey rotated(TestSigningKey::Type::kEcP256, "ec-2");
  ASSERT_TRUE(verifier->Refresh().ok());
  ASSERT_EQ(file_reads_, 1);

  absl::StatusOr<std::string> unknown = verifier->Verify(rotated.Sign(Claims()));
  jwks_ = testing::JwksOf({&EcKey(), &rotated});
  absl::StatusOr<std::string> still_limited = verifier->Verify(rotated.Sign(Claims()));
  const int reads_while_limited = file_reads_;
  clock_.Advance(ServiceAccountVerifier::kUnknownKidRefetchInterval);
  absl::StatusOr<std::string> after_rotation = verifier->Verify(rotated.Sign(Claims()));

  EXPECT_THAT(unknown.status().message(),
              HasSubstr("signed with key id \"ec-2\", which the issuer's key set does not hold"));
  EXPECT_EQ(still_limited.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(reads_while_limited, 1);
  ASSERT_TRUE(after_rotation.ok()) << after_rotation.status();
  EXPECT_EQ(file_reads_, 2);
}

TEST_F(ServiceAccountVerifierTest, AFailedRefreshKeepsTheLastGoodKeys) {
  KubernetesCallerAuth config;
  config.jwks_refresh = absl::Minutes(10);
  auto verifier = Verifier(config);
  ASSERT_TRUE(verifier->Refresh().ok());

  jwks_ = absl::NotFoundError("cannot read \"/etc/agentauth/jwks.json\"");
  clock_.Advance(absl::Minutes(11));
  absl::StatusOr<std::string> result = verifier->Verify(
      EcKey().Sign(ServiceAccountClaims(kIssuer, kAudience, "reports", "builder", clock_.Now())));

  EXPECT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(file_reads_, 2);
  EXPECT_THAT(log_.Lines().back(), HasSubstr("jwks_fetch_failed"));
}

TEST_F(ServiceAccountVerifierTest, WithoutKeysTheCallerIsToldTheServiceIsUnavailable) {
  jwks_ = absl::NotFoundError("cannot read \"/etc/agentauth/jwks.json\"");
  auto verifier = Verifier();

  absl::StatusOr<std::string> result = verifier->Verify(EcKey().Sign(Claims()));

  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(result.status().message(), HasSubstr("no keys"));
}

TEST_F(ServiceAccountVerifierTest, FindsTheKeysThroughDiscoveryWithTheBearerToken) {
  KubernetesCallerAuth config;
  config.jwks_uri = "";
  config.jwks_file = "";
  config.issuer = kIssuer;
  config.audience = kAudience;
  config.bearer_token_file = "/var/run/secrets/token";
  http_.AnswerJson(
      absl::StrCat(kIssuer, "/.well-known/openid-configuration"), 200,
      nlohmann::json({{"issuer", kIssuer}, {"jwks_uri", "https://10.0.0.1:443/openid/v1/jwks"}})
          .dump());
  http_.AnswerJson("https://10.0.0.1:443/openid/v1/jwks", 200, *jwks_);
  jwks_ = std::string("api-server-token\n");  // What the bearer token file holds here.
  ServiceAccountVerifier verifier(
      config, http_, clock_, logger_,
      [this](const std::string&) -> absl::StatusOr<std::string> { return *jwks_; });

  absl::StatusOr<std::string> result = verifier.Verify(RsaKey().Sign(Claims()));

  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(http_.Requests().size(), 2u);
  for (const HttpRequest& request : http_.Requests()) {
    EXPECT_THAT(request.headers, ::testing::Contains(std::pair<std::string, std::string>(
                                     "Authorization", "Bearer api-server-token")));
  }
}

TEST_F(ServiceAccountVerifierTest, RejectsASubjectThatIsNotAServiceAccount) {
  auto verifier = Verifier();
  nlohmann::json claims = Claims();
  claims["sub"] = "system:node:worker-1";

  absl::StatusOr<std::string> result = verifier->Verify(EcKey().Sign(claims));

  EXPECT_THAT(result.status().message(),
              HasSubstr("is not system:serviceaccount:<namespace>:<name>"));
}

TEST_F(ServiceAccountVerifierTest, RejectsGarbageWithAClearReason) {
  auto verifier = Verifier();

  EXPECT_THAT(verifier->Verify("not-a-jwt").status().message(),
              HasSubstr("not a signed JWT (three dot-separated parts)"));
  EXPECT_THAT(verifier->Verify("!!.e30.c2ln").status().message(), HasSubstr("not base64url"));
  EXPECT_THAT(verifier->Verify(std::string(20000, 'a')).status().message(),
              HasSubstr("longer than 16384 bytes"));
}

}  // namespace
}  // namespace agentauth
