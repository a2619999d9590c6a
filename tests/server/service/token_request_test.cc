#include "server/service/token_request.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_printing.h"

namespace agentauth {
namespace {

using ::testing::ElementsAre;

class TokenRequestTest : public ::testing::Test {
 protected:
  TokenRequestTest() {
    client_.name = "reports";
    client_.scopes = {"api.read", "api.write"};
    client_.min_validity = absl::Seconds(60);
    request_.set_client("reports");
  }

  void ExpectInvalid(const std::string& message) {
    absl::StatusOr<ValidTokenRequest> valid = ValidateTokenRequest(request_, client_);
    ASSERT_FALSE(valid.ok());
    EXPECT_EQ(valid.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(valid.status().message(), message);
  }

  ClientConfig client_;
  agentauth::v1::GetAccessTokenRequest request_;
};

TEST_F(TokenRequestTest, EmptyRequestGetsTheClientDefaults) {
  absl::StatusOr<ValidTokenRequest> valid = ValidateTokenRequest(request_, client_);

  ASSERT_TRUE(valid.ok()) << valid.status();
  EXPECT_THAT(valid->scopes, ElementsAre("api.read", "api.write"));
  EXPECT_EQ(valid->min_validity, absl::Seconds(60));
  EXPECT_EQ(valid->audience, "");
  EXPECT_FALSE(valid->force_refresh);
}

TEST_F(TokenRequestTest, ScopesInAnyOrderNormalizeToTheSameSet) {
  request_.add_scopes(" api.write ");
  request_.add_scopes("api.read api.write");

  absl::StatusOr<ValidTokenRequest> valid = ValidateTokenRequest(request_, client_);

  ASSERT_TRUE(valid.ok()) << valid.status();
  EXPECT_THAT(valid->scopes, ElementsAre("api.read", "api.write"));
}

TEST_F(TokenRequestTest, ScopeOutsideTheClientsScopesIsRejected) {
  request_.add_scopes("admin");

  ExpectInvalid(
      "scope \"admin\" is not among the scopes configured for client \"reports\" "
      "(api.read api.write)");
}

TEST_F(TokenRequestTest, ExplicitZeroMinValidityIsKept) {
  request_.mutable_min_validity()->set_seconds(0);

  EXPECT_EQ(ValidateTokenRequest(request_, client_)->min_validity, absl::ZeroDuration());
}

TEST_F(TokenRequestTest, NegativeMinValidityIsRejected) {
  request_.mutable_min_validity()->set_seconds(-1);

  ExpectInvalid("min_validity must be between 0s and 24h");
}

TEST_F(TokenRequestTest, MixedSignDurationIsRejected) {
  request_.mutable_min_validity()->set_seconds(1);
  request_.mutable_min_validity()->set_nanos(-5);

  ExpectInvalid("min_validity must be between 0s and 24h");
}

TEST_F(TokenRequestTest, AudienceMustBeAnAbsoluteUriWithoutFragment) {
  request_.set_audience("api.example.test");
  ExpectInvalid(
      "audience \"api.example.test\" is not an absolute URI without a fragment "
      "(RFC 8707), such as \"https://api.example.com\"");

  request_.set_audience("https://api.example.test/#x");
  ExpectInvalid(
      "audience \"https://api.example.test/#x\" is not an absolute URI without a "
      "fragment (RFC 8707), such as \"https://api.example.com\"");

  request_.set_audience("urn:agentauth:dev-api");
  EXPECT_EQ(ValidateTokenRequest(request_, client_)->audience, "urn:agentauth:dev-api");
}

TEST(RequestShapeTest, FieldsBeyondTheirLimitsAreRefused) {
  agentauth::v1::GetAccessTokenRequest request;
  EXPECT_EQ(CheckRequestShape(request).message(), "client is required");

  request.set_client(std::string(129, 'c'));
  EXPECT_EQ(CheckRequestShape(request).message(), "client is longer than 128 bytes");

  request.set_client("reports");
  request.add_scopes(std::string(257, 's'));
  EXPECT_EQ(CheckRequestShape(request).message(), "a scope is longer than 256 bytes");

  request.clear_scopes();
  request.set_audience(std::string(2049, 'a'));
  EXPECT_EQ(CheckRequestShape(request).message(), "audience is longer than 2048 bytes");
}

}  // namespace
}  // namespace agentauth
