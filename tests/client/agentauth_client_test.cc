#include "client/agentauth_client.h"

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/support/channel_arguments.h"
#include "gtest/gtest.h"
#include "tests/client/fake_token_service.h"

namespace agentauth {
namespace {

using ::agentauth::testing::FakeTokenServer;
using ::agentauth::testing::ReceivedTokenCall;
using ::testing::ElementsAre;
using ::testing::SizeIs;
using ::testing::StartsWith;

// Tests talk to 127.0.0.1 only: a proxy from the environment must not be used.
std::shared_ptr<grpc::Channel> DirectChannel(const std::string& target) {
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), arguments);
}

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<FakeTokenServer>> server = FakeTokenServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    client_ = std::make_unique<Client>(DirectChannel(server_->target()));
  }

  testing::FakeTokenService& service() { return server_->service(); }

  std::unique_ptr<FakeTokenServer> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(ClientTest, GetAccessTokenSendsEveryOption) {
  const TokenOptions options = {.client = "reports",
                                .scopes = {"reports.read", "reports.write"},
                                .audience = "https://api.example.com",
                                .min_validity = absl::Minutes(5),
                                .force_refresh = true};

  ASSERT_TRUE(client_->GetAccessToken(options).ok());

  const std::vector<ReceivedTokenCall> calls = service().token_calls();
  ASSERT_THAT(calls, SizeIs(1));
  const v1::GetAccessTokenRequest& request = calls[0].request;
  EXPECT_EQ(request.client(), "reports");
  EXPECT_THAT(request.scopes(), ElementsAre("reports.read", "reports.write"));
  EXPECT_EQ(request.audience(), "https://api.example.com");
  ASSERT_TRUE(request.has_min_validity());
  EXPECT_EQ(request.min_validity().seconds(), 300);
  EXPECT_EQ(request.min_validity().nanos(), 0);
  EXPECT_TRUE(request.force_refresh());
}

TEST_F(ClientTest, UnsetMinValidityIsLeftOutOfTheRequest) {
  ASSERT_TRUE(client_->GetAccessToken({.client = "reports"}).ok());

  const std::vector<ReceivedTokenCall> calls = service().token_calls();
  ASSERT_THAT(calls, SizeIs(1));
  EXPECT_FALSE(calls[0].request.has_min_validity());
  EXPECT_FALSE(calls[0].request.force_refresh());
}

TEST_F(ClientTest, FractionalMinValidityKeepsItsNanoseconds) {
  ASSERT_TRUE(
      client_->GetAccessToken({.client = "c", .min_validity = absl::Milliseconds(1500)}).ok());

  const v1::GetAccessTokenRequest request = service().token_calls().at(0).request;
  EXPECT_EQ(request.min_validity().seconds(), 1);
  EXPECT_EQ(request.min_validity().nanos(), 500000000);
}

TEST_F(ClientTest, NegativeMinValidityIsSentForTheServiceToJudge) {
  ASSERT_TRUE(
      client_->GetAccessToken({.client = "c", .min_validity = absl::Milliseconds(-1500)}).ok());

  const v1::GetAccessTokenRequest request = service().token_calls().at(0).request;
  EXPECT_EQ(request.min_validity().seconds(), -1);
  EXPECT_EQ(request.min_validity().nanos(), -500000000);
}

TEST_F(ClientTest, InfiniteMinValidityIsRejectedWithoutACall) {
  absl::StatusOr<v1::GetAccessTokenResponse> response =
      client_->GetAccessToken({.client = "c", .min_validity = absl::InfiniteDuration()});

  EXPECT_EQ(response.status(), absl::InvalidArgumentError("min_validity must be finite"));
  EXPECT_THAT(service().token_calls(), SizeIs(0));
}

TEST_F(ClientTest, GetAccessTokenReturnsTheServiceAnswer) {
  v1::GetAccessTokenResponse answer;
  answer.set_access_token("tok-123");
  answer.set_token_type("Bearer");
  answer.set_authorization("Bearer tok-123");
  service().AnswerTokenWith(answer);

  absl::StatusOr<v1::GetAccessTokenResponse> response =
      client_->GetAccessToken({.client = "reports"});

  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->access_token(), "tok-123");
  EXPECT_EQ(response->authorization(), "Bearer tok-123");
}

TEST_F(ClientTest, ServiceErrorKeepsItsCodeAndMessage) {
  service().FailTokenWith(absl::NotFoundError("unknown client \"reports\""));

  absl::StatusOr<v1::GetAccessTokenResponse> response =
      client_->GetAccessToken({.client = "reports"});

  EXPECT_EQ(response.status(), absl::NotFoundError("unknown client \"reports\""));
}

TEST_F(ClientTest, CallTimeoutBecomesTheDeadlineTheServiceSees) {
  const absl::Time before = absl::Now();

  ASSERT_TRUE(client_->GetAccessToken({.client = "c", .timeout = absl::Seconds(30)}).ok());

  const absl::Time after = absl::Now();
  const absl::Time deadline = absl::FromChrono(service().token_calls().at(0).deadline);
  // gRPC sends the deadline as a rounded timeout, so allow a second of slack either way.
  EXPECT_GE(deadline, before + absl::Seconds(29));
  EXPECT_LE(deadline, after + absl::Seconds(31));
}

TEST_F(ClientTest, InfiniteTimeoutSendsNoDeadline) {
  ASSERT_TRUE(client_->GetAccessToken({.client = "c", .timeout = absl::InfiniteDuration()}).ok());

  EXPECT_EQ(service().token_calls().at(0).deadline, std::chrono::system_clock::time_point::max());
}

TEST_F(ClientTest, CallStillUnansweredAtItsTimeoutFailsWithDeadlineExceeded) {
  service().HoldTokenCalls();

  absl::StatusOr<v1::GetAccessTokenResponse> response =
      client_->GetAccessToken({.client = "c", .timeout = absl::Milliseconds(200)});

  service().ReleaseTokenCalls();
  EXPECT_EQ(response.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(ClientTest, GetStatusAsksForTheNamedClientAndReturnsTheAnswer) {
  v1::GetStatusResponse answer;
  answer.set_server_version("1.2.3");
  answer.add_clients()->set_name("reports");
  service().AnswerStatusWith(answer);

  absl::StatusOr<v1::GetStatusResponse> response = client_->GetStatus("reports", absl::Seconds(10));

  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->server_version(), "1.2.3");
  ASSERT_THAT(response->clients(), SizeIs(1));
  EXPECT_EQ(response->clients(0).name(), "reports");
  ASSERT_THAT(service().status_requests(), SizeIs(1));
  EXPECT_EQ(service().status_requests()[0].client(), "reports");
}

TEST_F(ClientTest, GetStatusErrorKeepsItsCodeAndMessage) {
  service().FailStatusWith(absl::PermissionDeniedError("not for you"));

  absl::StatusOr<v1::GetStatusResponse> response = client_->GetStatus("", absl::Seconds(10));

  EXPECT_EQ(response.status(), absl::PermissionDeniedError("not for you"));
}

TEST_F(ClientTest, RunningServiceIsReachableAndThenConnected) {
  EXPECT_FALSE(client_->IsConnected());

  EXPECT_EQ(client_->WaitUntilReachable(absl::Seconds(10)), absl::OkStatus());

  EXPECT_TRUE(client_->IsConnected());
}

TEST_F(ClientTest, ClientBuiltFromATargetStringReachesTheService) {
  Client client(server_->target());
  service().AnswerTokenWith(v1::GetAccessTokenResponse());

  EXPECT_TRUE(client.GetAccessToken({.client = "c"}).ok());
}

TEST(UnreachableClientTest, WaitUntilReachableFailsUnavailableAfterTheTimeout) {
  absl::StatusOr<int> port = testing::UnusedLoopbackPort();
  ASSERT_TRUE(port.ok()) << port.status();
  Client client(DirectChannel(absl::StrCat("127.0.0.1:", *port)));

  absl::Status reachable = client.WaitUntilReachable(absl::Milliseconds(300));

  EXPECT_EQ(reachable.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(reachable.message()),
              StartsWith("no connection within 300ms (channel state: "));
  EXPECT_FALSE(client.IsConnected());
}

TEST(UnreachableClientTest, CallFailsUnavailableWithoutAConnection) {
  absl::StatusOr<int> port = testing::UnusedLoopbackPort();
  ASSERT_TRUE(port.ok()) << port.status();
  Client client(DirectChannel(absl::StrCat("127.0.0.1:", *port)));

  absl::StatusOr<v1::GetAccessTokenResponse> response =
      client.GetAccessToken({.client = "c", .timeout = absl::Seconds(10)});

  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(client.IsConnected());
}

}  // namespace
}  // namespace agentauth
