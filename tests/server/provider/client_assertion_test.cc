// Client assertions (client_secret_jwt, private_key_jwt): the header and claims a provider
// checks, and signatures verified independently with OpenSSL.
#include "server/provider/client_assertion.h"

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/crypto/jose_signing.h"
#include "tests/testing/status_printing.h"
#include "tests/testing/test_keys.h"

namespace agentauth {
namespace {

using ::testing::MatchesRegex;
using ::testing::Not;

constexpr char kEndpoint[] = "https://idp.example.test/oauth2/token";

// Random numbers from a list, so that two assertions get different jti.
class SequenceRandom final : public Random {
 public:
  explicit SequenceRandom(std::vector<double> values) : values_(std::move(values)) {}
  double Uniform() override { return values_[next_++ % values_.size()]; }

 private:
  std::vector<double> values_;
  size_t next_ = 0;
};

struct DecodedJwt {
  nlohmann::json header;
  nlohmann::json claims;
  std::string signing_input;
  std::string signature;
};

DecodedJwt Decode(const std::string& jwt) {
  const std::vector<std::string> parts = absl::StrSplit(jwt, '.');
  EXPECT_EQ(parts.size(), 3u) << jwt;
  DecodedJwt decoded;
  if (parts.size() != 3) return decoded;
  std::string header;
  std::string claims;
  EXPECT_TRUE(absl::WebSafeBase64Unescape(parts[0], &header));
  EXPECT_TRUE(absl::WebSafeBase64Unescape(parts[1], &claims));
  EXPECT_TRUE(absl::WebSafeBase64Unescape(parts[2], &decoded.signature));
  EXPECT_THAT(jwt, Not(::testing::HasSubstr("="))) << "base64url without padding";
  decoded.header = nlohmann::json::parse(header);
  decoded.claims = nlohmann::json::parse(claims);
  decoded.signing_input = parts[0] + "." + parts[1];
  return decoded;
}

AssertionClaims Claims() {
  return {.client_id = "reports-agent",
          .audience = kEndpoint,
          .issued_at = absl::FromUnixSeconds(1800000000),
          .jwt_id = "0123456789abcdef0123456789abcdef"};
}

ClientConfig KeyClient(const std::string& key_pem, SigningAlgorithm algorithm,
                       const std::string& key_id = "") {
  ClientConfig client;
  client.client_id = "reports-agent";
  client.auth_method = AuthMethod::kPrivateKeyJwt;
  client.private_key_pem = SecretString(key_pem);
  client.signing_algorithm = algorithm;
  client.key_id = key_id;
  return client;
}

TEST(ClientAssertionTest, ClaimsNameTheClientTheEndpointAndAShortLifetime) {
  ClientConfig client;
  client.client_id = "reports-agent";
  client.client_secret = SecretString("a-secret-of-thirty-two-bytes-or-more");
  client.auth_method = AuthMethod::kClientSecretJwt;

  absl::StatusOr<std::string> jwt = SignClientAssertion(client, client.auth_method, Claims());

  ASSERT_TRUE(jwt.ok()) << jwt.status();
  const DecodedJwt decoded = Decode(*jwt);
  EXPECT_EQ(decoded.header, nlohmann::json::parse(R"({"alg":"HS256","typ":"JWT"})"));
  EXPECT_EQ(decoded.claims, nlohmann::json::parse(R"({
      "iss": "reports-agent", "sub": "reports-agent",
      "aud": "https://idp.example.test/oauth2/token",
      "jti": "0123456789abcdef0123456789abcdef", "iat": 1800000000, "exp": 1800000060})"));
}

TEST(ClientAssertionTest, ClientSecretJwtIsAnHmacUnderTheSecret) {
  ClientConfig client;
  client.client_id = "reports-agent";
  client.client_secret = SecretString("a-secret-of-thirty-two-bytes-or-more");
  client.auth_method = AuthMethod::kClientSecretJwt;

  const DecodedJwt decoded = Decode(*SignClientAssertion(client, client.auth_method, Claims()));

  EXPECT_EQ(decoded.signature,
            HmacSha256("a-secret-of-thirty-two-bytes-or-more", decoded.signing_input));
  EXPECT_NE(decoded.signature, HmacSha256("another-secret", decoded.signing_input));
}

struct KeyCase {
  std::string name;
  SigningAlgorithm algorithm;
  bool rsa;
};

class PrivateKeyJwtTest : public ::testing::TestWithParam<KeyCase> {};

TEST_P(PrivateKeyJwtTest, SignatureVerifiesWithThePublicKeyAndHeaderNamesAlgorithmAndKid) {
  const KeyCase& key_case = GetParam();
  const std::string key = key_case.rsa ? testing::NewRsaKeyPem() : testing::NewEcKeyPem();
  const ClientConfig client = KeyClient(key, key_case.algorithm, "key-2026");

  absl::StatusOr<std::string> jwt = SignClientAssertion(client, client.auth_method, Claims());

  ASSERT_TRUE(jwt.ok()) << jwt.status();
  const DecodedJwt decoded = Decode(*jwt);
  const std::string algorithm(SigningAlgorithmName(key_case.algorithm));
  EXPECT_EQ(decoded.header["alg"], algorithm);
  EXPECT_EQ(decoded.header["kid"], "key-2026");
  EXPECT_EQ(decoded.header["typ"], "JWT");
  EXPECT_EQ(decoded.claims["iss"], "reports-agent");
  EXPECT_EQ(decoded.claims["aud"], kEndpoint);
  if (key_case.algorithm == SigningAlgorithm::kEs256) {
    EXPECT_EQ(decoded.signature.size(), 64u) << "JOSE r || s, not DER";
  }
  const std::string public_key = testing::PublicKeyPem(key);
  EXPECT_TRUE(testing::VerifyJws(public_key, algorithm, decoded.signing_input, decoded.signature));
  EXPECT_FALSE(
      testing::VerifyJws(public_key, algorithm, decoded.signing_input + "x", decoded.signature))
      << "a verification that cannot fail proves nothing";
}

INSTANTIATE_TEST_SUITE_P(Algorithms, PrivateKeyJwtTest,
                         ::testing::Values(KeyCase{"RS256", SigningAlgorithm::kRs256, true},
                                           KeyCase{"PS256", SigningAlgorithm::kPs256, true},
                                           KeyCase{"ES256", SigningAlgorithm::kEs256, false}),
                         [](const ::testing::TestParamInfo<KeyCase>& param_info) {
                           return param_info.param.name;
                         });

TEST(ClientAssertionTest, NoKidHeaderWithoutAKeyId) {
  const ClientConfig client = KeyClient(testing::NewEcKeyPem(), SigningAlgorithm::kEs256);

  const DecodedJwt decoded = Decode(*SignClientAssertion(client, client.auth_method, Claims()));

  EXPECT_FALSE(decoded.header.contains("kid"));
}

TEST(ClientAssertionTest, AlgorithmThatDoesNotFitTheKeyIsRefused) {
  const ClientConfig client = KeyClient(testing::NewEcKeyPem(), SigningAlgorithm::kRs256);

  absl::StatusOr<std::string> jwt = SignClientAssertion(client, client.auth_method, Claims());

  ASSERT_FALSE(jwt.ok());
  EXPECT_EQ(jwt.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(jwt.status().message(), "RS256 needs an RSA key, but the key is EC P-256");
}

TEST(ClientAssertionTest, JwtIdsAre128RandomBitsInHex) {
  SequenceRandom random({0.0, 0.25, 0.5, 0.999999, 0.1, 0.2, 0.3, 0.4});

  const std::string first = NewJwtId(random);
  const std::string second = NewJwtId(random);

  EXPECT_THAT(first, MatchesRegex("[0-9a-f]{32}"));
  EXPECT_EQ(first.substr(0, 16), "0000000040000000");
  EXPECT_NE(first, second);
}

}  // namespace
}  // namespace agentauth
