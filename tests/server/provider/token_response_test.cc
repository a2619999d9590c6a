// Token responses as real providers send them: ../shared/cases/provider-quirks.md PQ-01 to
// PQ-06, one row per variant. T0 is when the answer was received.
#include "server/provider/token_response.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_printing.h"

namespace agentauth {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

TokenResponseOptions Options() {
  TokenResponseOptions options;
  options.default_lifetime = absl::Seconds(300);
  options.received_at = kT0;
  return options;
}

// "<T0+N>" in a body becomes the epoch second T0 + N.
std::string AtT0(std::string body) {
  for (int offset : {-10, 0, 3599, 7200}) {
    body = absl::StrReplaceAll(
        body, {{absl::StrCat("<T0+", offset, ">"), absl::StrCat(1'800'000'000 + offset)}});
  }
  return body;
}

std::string JwtWithExp(int64_t exp) {
  return absl::StrCat(absl::WebSafeBase64Escape(R"({"alg":"RS256"})"), ".",
                      absl::WebSafeBase64Escape(absl::StrCat(R"({"exp":)", exp, "}")), ".sig");
}

struct AcceptedCase {
  std::string name;
  std::string body;
  absl::Duration lifetime;
  bool warns;
};

class TokenResponseAcceptedTest : public ::testing::TestWithParam<AcceptedCase> {};

TEST_P(TokenResponseAcceptedTest, YieldsTheTokenWithTheRightLifetime) {
  absl::StatusOr<ParsedToken> token = ParseTokenResponse(AtT0(GetParam().body), Options());

  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_FALSE(token->access_token.empty());
  EXPECT_EQ(token->lifetime, GetParam().lifetime);
  EXPECT_EQ(!token->warnings.empty(), GetParam().warns)
      << (token->warnings.empty() ? "" : token->warnings[0]);
}

INSTANTIATE_TEST_SUITE_P(
    ProviderQuirks, TokenResponseAcceptedTest,
    ::testing::Values(
        // PQ-01: numbers as strings and extra time fields; expires_in wins.
        AcceptedCase{"PQ01_NumbersAsStrings",
                     R"({"token_type":"Bearer","expires_in":"3599","ext_expires_in":"3599",
                         "expires_on":"<T0+3599>","not_before":"<T0+0>",
                         "resource":"https://api.example.test",
                         "access_token":"eyJ0eXAiOiJKV1QifQ.e30.c2ln"})",
                     absl::Seconds(3599), false},
        AcceptedCase{"PQ01_EmptyExpiresOnIsIgnored",
                     R"({"token_type":"Bearer","expires_in":3600,"expires_on":"",
                         "access_token":"tok-1"})",
                     absl::Seconds(3600), false},
        AcceptedCase{"PQ01_OnlyExpiresOn",
                     R"({"token_type":"Bearer","expires_on":"<T0+3599>","access_token":"tok-1"})",
                     absl::Seconds(3599), false},
        AcceptedCase{"PQ01_ExtExpiresInNeverExtends",
                     R"({"token_type":"Bearer","expires_in":60,"ext_expires_in":7200,
                         "access_token":"tok-1"})",
                     absl::Seconds(60), false},
        AcceptedCase{"PQ01_ExpiresOnAsNumber",
                     R"({"token_type":"Bearer","expires_on":<T0+7200>,"access_token":"tok-1"})",
                     absl::Seconds(7200), false},
        // PQ-02: no lifetime at all: the configured default, never forever.
        AcceptedCase{"PQ02_NoExpiresIn", R"({"access_token":"tok-1","token_type":"Bearer"})",
                     absl::Seconds(300), true},
        // PQ-03: fractions and exponents are floored; nonsense gets the default.
        AcceptedCase{"PQ03_Fraction",
                     R"({"access_token":"tok-1","token_type":"Bearer","expires_in":3599.731})",
                     absl::Seconds(3599), false},
        AcceptedCase{"PQ03_WholeFraction",
                     R"({"access_token":"tok-1","token_type":"Bearer","expires_in":3600.0})",
                     absl::Seconds(3600), false},
        AcceptedCase{"PQ03_Exponent",
                     R"({"access_token":"tok-1","token_type":"Bearer","expires_in":1e3})",
                     absl::Seconds(1000), false},
        AcceptedCase{"PQ03_ExponentString",
                     R"({"access_token":"tok-1","token_type":"Bearer","expires_in":"1e3"})",
                     absl::Seconds(1000), false},
        AcceptedCase{"PQ03_FractionString",
                     R"({"access_token":"tok-1","token_type":"Bearer","expires_in":"59.9"})",
                     absl::Seconds(59), false},
        AcceptedCase{"PQ03_Zero",
                     R"({"access_token":"tok-1","token_type":"Bearer","expires_in":0})",
                     absl::Seconds(300), true},
        AcceptedCase{"PQ03_Negative",
                     R"({"access_token":"tok-1","token_type":"Bearer","expires_in":-5})",
                     absl::Seconds(300), true},
        AcceptedCase{"PQ03_OverAYear",
                     R"({"access_token":"tok-1","token_type":"Bearer","expires_in":40000000})",
                     absl::Seconds(300), true},
        AcceptedCase{"PQ03_Huge",
                     R"({"access_token":"tok-1","token_type":"Bearer","expires_in":1e300})",
                     absl::Seconds(300), true},
        AcceptedCase{"PQ03_ExpiresOnInThePast",
                     R"({"access_token":"tok-1","token_type":"Bearer","expires_on":"<T0+-10>"})",
                     absl::Seconds(300), true},
        AcceptedCase{"PQ03_NotANumber",
                     R"({"access_token":"tok-1","token_type":"Bearer","expires_in":"soon"})",
                     absl::Seconds(300), true},
        // PQ-04: any capitalisation of Bearer.
        AcceptedCase{"PQ04_LowerCase",
                     R"({"access_token":"tok-1","token_type":"bearer","expires_in":60})",
                     absl::Seconds(60), false},
        AcceptedCase{"PQ04_UpperCase",
                     R"({"access_token":"tok-1","token_type":"BEARER","expires_in":60})",
                     absl::Seconds(60), false},
        // PQ-05: token_type missing or empty: Bearer, with a warning.
        AcceptedCase{"PQ05_Missing", R"({"access_token":"tok-1","expires_in":60})",
                     absl::Seconds(60), true},
        AcceptedCase{"PQ05_Empty", R"({"access_token":"tok-1","token_type":"","expires_in":60})",
                     absl::Seconds(60), true},
        // PQ-06: a refresh token alongside is ignored.
        AcceptedCase{"PQ06_RefreshTokenIgnored",
                     R"({"access_token":"tok-1","token_type":"Bearer","expires_in":300,
                         "refresh_token":"rt-1","refresh_expires_in":1800,
                         "session_state":"abc","not-before-policy":0})",
                     absl::Seconds(300), false}),
    [](const ::testing::TestParamInfo<AcceptedCase>& param_info) { return param_info.param.name; });

TEST(TokenResponseTest, JwtExpIsUsedWhenNoLifetimeIsStated) {
  const std::string body = absl::StrCat(R"({"token_type":"Bearer","access_token":")",
                                        JwtWithExp(1'800'000'000 + 1200), R"("})");

  absl::StatusOr<ParsedToken> token = ParseTokenResponse(body, Options());

  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->lifetime, absl::Seconds(1200));
  EXPECT_THAT(token->warnings, IsEmpty());
}

TEST(TokenResponseTest, JwtThatHasAlreadyExpiredIsRejected) {
  const std::string body =
      absl::StrCat(R"({"token_type":"Bearer","expires_in":3600,)", R"("access_token":")",
                   JwtWithExp(1'800'000'000 - 100), R"("})");

  absl::StatusOr<ParsedToken> token = ParseTokenResponse(body, Options());

  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().message(),
            "the token expired before it was received (its exp claim is 1m40s in the past; "
            "check the provider's clock)");
}

TEST(TokenResponseTest, GrantedScopesAreNormalized) {
  absl::StatusOr<ParsedToken> token = ParseTokenResponse(
      R"({"access_token":"tok-1","token_type":"Bearer","expires_in":60,"scope":"b  a"})",
      Options());

  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_THAT(token->scopes, ElementsAre("a", "b"));
}

TEST(TokenResponseTest, RefreshTokenIsNotKeptAnywhere) {
  absl::StatusOr<ParsedToken> token = ParseTokenResponse(
      R"({"access_token":"tok-1","token_type":"Bearer","refresh_token":"rt-SECRET"})", Options());

  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->access_token, "tok-1");
  for (const std::string& warning : token->warnings) {
    EXPECT_THAT(warning, Not(HasSubstr("rt-SECRET")));
  }
}

struct RejectedCase {
  std::string name;
  std::string body;
  std::string message;
};

class TokenResponseRejectedTest : public ::testing::TestWithParam<RejectedCase> {};

TEST_P(TokenResponseRejectedTest, FailsWithAClearMessage) {
  absl::StatusOr<ParsedToken> token = ParseTokenResponse(GetParam().body, Options());

  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(token.status().message(), GetParam().message);
  EXPECT_THAT(std::string(token.status().message()), Not(HasSubstr("tok-1")));
}

INSTANTIATE_TEST_SUITE_P(
    ProviderQuirks, TokenResponseRejectedTest,
    ::testing::Values(
        // PQ-04: a MAC token is not relabelled as Bearer.
        RejectedCase{"PQ04_Mac", R"({"access_token":"tok-1","token_type":"mac"})",
                     "token_type \"mac\" is not supported; agentauth serves Bearer tokens only"},
        RejectedCase{"TokenTypeNotAString", R"({"access_token":"tok-1","token_type":1})",
                     "token_type is not a string"},
        RejectedCase{"NotJson", "<html>sign in</html>", "the answer is not a JSON object"},
        RejectedCase{"JsonArray", "[]", "the answer is not a JSON object"},
        RejectedCase{"NoAccessToken", R"({"token_type":"Bearer"})",
                     "the answer has no access_token"},
        RejectedCase{"EmptyAccessToken", R"({"access_token":""})",
                     "the answer has no access_token"},
        RejectedCase{"AccessTokenNotAString", R"({"access_token":5})",
                     "the answer has no access_token"},
        RejectedCase{"AccessTokenWithNewline", R"({"access_token":"tok-1\nX-Evil: 1"})",
                     "the access_token contains spaces, control characters or non-ASCII bytes"},
        RejectedCase{"AccessTokenNotAscii", R"({"access_token":"tok-1\u00e9"})",
                     "the access_token contains spaces, control characters or non-ASCII bytes"}),
    [](const ::testing::TestParamInfo<RejectedCase>& param_info) { return param_info.param.name; });

TEST(OAuthErrorTest, ErrorAndDescriptionAreRead) {
  std::optional<OAuthError> error =
      ParseOAuthError(R"({"error":"invalid_client","error_description":"Bad credentials"})");

  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->error, "invalid_client");
  EXPECT_EQ(error->description, "Bad credentials");
}

TEST(OAuthErrorTest, DescriptionIsEscapedAndBounded) {
  const std::string body =
      absl::StrCat(R"({"error":"invalid_scope","error_description":")",
                   "line1\\r\\nline2 \\\"q\\\" \\u00e9 ", std::string(20000, 'x'), R"("})");

  std::optional<OAuthError> error = ParseOAuthError(body);

  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->error, "invalid_scope");
  EXPECT_THAT(error->description, HasSubstr("line1\\r\\nline2 \"q\" \xc3\xa9 xxx"));
  EXPECT_LE(error->description.size(), 1024u + 3);
  EXPECT_EQ(error->description.find('\n'), std::string::npos);
}

TEST(OAuthErrorTest, NonOAuthBodiesAreNotErrors) {
  EXPECT_FALSE(ParseOAuthError("<html>Access Denied</html>").has_value());
  EXPECT_FALSE(ParseOAuthError(R"({"message":"no"})").has_value());
  EXPECT_FALSE(ParseOAuthError("").has_value());
}

}  // namespace
}  // namespace agentauth
