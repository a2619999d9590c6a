// The automatic choice of the token endpoint auth method: what the provider lists against what
// the configured credentials allow; a configured method always wins.
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/provider/discovery.h"
#include "tests/testing/status_printing.h"

namespace agentauth {
namespace {

using Listed = std::optional<std::vector<std::string>>;

struct ChoiceCase {
  std::string name;
  AuthMethod configured;
  Listed listed;
  AvailableCredentials credentials;
  AuthMethod expected;
};

constexpr AvailableCredentials kSecret{.secret = true};
constexpr AvailableCredentials kKey{.private_key = true};
constexpr AvailableCredentials kCertificate{.certificate = true};
constexpr AvailableCredentials kEverything{
    .secret = true, .private_key = true, .certificate = true};
const Listed kAll =
    std::vector<std::string>{"client_secret_basic", "client_secret_post", "client_secret_jwt",
                             "private_key_jwt", "tls_client_auth"};

class AuthMethodChoiceTest : public ::testing::TestWithParam<ChoiceCase> {};

TEST_P(AuthMethodChoiceTest, PicksTheExpectedMethod) {
  const ChoiceCase& choice = GetParam();

  absl::StatusOr<AuthMethod> chosen =
      ChooseAuthMethod(choice.configured, choice.listed, choice.credentials);

  ASSERT_TRUE(chosen.ok()) << chosen.status();
  EXPECT_EQ(AuthMethodName(*chosen), AuthMethodName(choice.expected));
}

INSTANTIATE_TEST_SUITE_P(
    Table, AuthMethodChoiceTest,
    ::testing::Values(ChoiceCase{"SecretNothingListedIsBasic", AuthMethod::kAutomatic, std::nullopt,
                                 kSecret, AuthMethod::kClientSecretBasic},
                      ChoiceCase{"SecretEmptyListIsBasic", AuthMethod::kAutomatic,
                                 std::vector<std::string>{}, kSecret,
                                 AuthMethod::kClientSecretBasic},
                      ChoiceCase{"SecretAllListedIsBasic", AuthMethod::kAutomatic, kAll, kSecret,
                                 AuthMethod::kClientSecretBasic},
                      ChoiceCase{"SecretPostOnly", AuthMethod::kAutomatic,
                                 std::vector<std::string>{"client_secret_post", "private_key_jwt"},
                                 kSecret, AuthMethod::kClientSecretPost},
                      ChoiceCase{"SecretJwtOnly", AuthMethod::kAutomatic,
                                 std::vector<std::string>{"client_secret_jwt", "private_key_jwt"},
                                 kSecret, AuthMethod::kClientSecretJwt},
                      ChoiceCase{"KeyAllListedIsPrivateKeyJwt", AuthMethod::kAutomatic, kAll, kKey,
                                 AuthMethod::kPrivateKeyJwt},
                      ChoiceCase{"KeyNothingListedIsPrivateKeyJwt", AuthMethod::kAutomatic,
                                 std::nullopt, kKey, AuthMethod::kPrivateKeyJwt},
                      ChoiceCase{"CertificateAllListedIsTls", AuthMethod::kAutomatic, kAll,
                                 kCertificate, AuthMethod::kTlsClientAuth},
                      ChoiceCase{"CertificateNothingListedIsTls", AuthMethod::kAutomatic,
                                 std::nullopt, kCertificate, AuthMethod::kTlsClientAuth},
                      ChoiceCase{"EverythingAllListedPrefersTheKey", AuthMethod::kAutomatic, kAll,
                                 kEverything, AuthMethod::kPrivateKeyJwt},
                      ChoiceCase{"EverythingNothingListedIsBasic", AuthMethod::kAutomatic,
                                 std::nullopt, kEverything, AuthMethod::kClientSecretBasic},
                      ChoiceCase{"EverythingTlsAndPostListed", AuthMethod::kAutomatic,
                                 std::vector<std::string>{"client_secret_post", "tls_client_auth"},
                                 kEverything, AuthMethod::kTlsClientAuth},
                      ChoiceCase{"ConfiguredWinsOverTheList", AuthMethod::kClientSecretPost,
                                 std::vector<std::string>{"private_key_jwt"}, kSecret,
                                 AuthMethod::kClientSecretPost},
                      ChoiceCase{"ConfiguredWinsOverBetterCredentials",
                                 AuthMethod::kClientSecretJwt, kAll, kEverything,
                                 AuthMethod::kClientSecretJwt}),
    [](const ::testing::TestParamInfo<ChoiceCase>& param_info) { return param_info.param.name; });

TEST(AuthMethodChoiceErrorTest, NothingListedFitsTheCredentials) {
  absl::StatusOr<AuthMethod> chosen =
      ChooseAuthMethod(AuthMethod::kAutomatic,
                       std::vector<std::string>{"private_key_jwt", "tls_client_auth"}, kSecret);

  ASSERT_FALSE(chosen.ok());
  EXPECT_EQ(chosen.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(chosen.status().message(),
            "the provider lists token endpoint auth methods private_key_jwt, tls_client_auth, but "
            "the configured credentials allow only client_secret_basic, client_secret_post, "
            "client_secret_jwt; configure the missing credential, or set auth_method if the "
            "provider's list is wrong");
}

}  // namespace
}  // namespace agentauth
