#include "client/token_source.h"

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/channel_arguments.h"
#include "gtest/gtest.h"
#include "tests/client/fake_token_service.h"
#include "tests/testing/fake_clock.h"

namespace agentauth {
namespace {

using ::agentauth::testing::FakeTokenServer;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

// An iterator over no properties; AuthPropertyIterator's own constructor is protected.
class NoProperties : public grpc::AuthPropertyIterator {
 public:
  NoProperties() = default;
};

// The plugin ignores the channel's authentication; this stands for a channel without any.
class NoAuthContext final : public grpc::AuthContext {
 public:
  bool IsPeerAuthenticated() const override { return false; }
  std::vector<grpc::string_ref> GetPeerIdentity() const override { return {}; }
  std::string GetPeerIdentityPropertyName() const override { return ""; }
  std::vector<grpc::string_ref> FindPropertyValues(const std::string&) const override { return {}; }
  grpc::AuthPropertyIterator begin() const override { return NoProperties(); }
  grpc::AuthPropertyIterator end() const override { return NoProperties(); }
  void AddProperty(const std::string&, const grpc::string_ref&) override {}
  bool SetPeerIdentityPropertyName(const std::string&) override { return false; }
};

// A TokenService whose GetStatus records the authorization header it received, served over
// local credentials: gRPC sends call credentials only over a channel it deems secure.
class HeaderRecorder final : public v1::TokenService::Service {
 public:
  grpc::Status GetStatus(grpc::ServerContext* context, const v1::GetStatusRequest*,
                         v1::GetStatusResponse*) override {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [key, value] : context->client_metadata()) {
      if (key == "authorization") received_.emplace_back(value.data(), value.size());
    }
    return grpc::Status::OK;
  }

  std::vector<std::string> received() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return received_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> received_;
};

class TokenSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<FakeTokenServer>> server = FakeTokenServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    grpc::ChannelArguments arguments;
    arguments.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
    client_ = std::make_shared<Client>(grpc::CreateCustomChannel(
        server_->target(), grpc::InsecureChannelCredentials(), arguments));
    AnswerToken("t1", absl::Hours(1));
  }

  // The fake daemon answers `token`, expiring `lifetime` after the test's time.
  void AnswerToken(const std::string& token, absl::Duration lifetime) {
    v1::GetAccessTokenResponse response;
    response.set_access_token(token);
    response.set_token_type("Bearer");
    response.set_authorization("Bearer " + token);
    response.mutable_expires_at()->set_seconds(absl::ToUnixSeconds(time_.Now() + lifetime));
    server_->service().AnswerTokenWith(response);
  }

  std::shared_ptr<TokenSource> Source(absl::Duration min_validity = absl::Seconds(60)) {
    return std::make_shared<TokenSource>(
        client_, TokenSource::Options{.token = {.client = "reports", .scopes = {"api.read"}},
                                      .min_validity = min_validity,
                                      .now = [this] { return time_.Now(); }});
  }

  size_t Calls() const { return server_->service().token_calls().size(); }

  testing::FakeClock time_{kStart};
  std::unique_ptr<FakeTokenServer> server_;
  std::shared_ptr<Client> client_;
};

TEST_F(TokenSourceTest, SecondUseWithinValidityMakesNoRpc) {
  std::shared_ptr<TokenSource> source = Source();

  absl::StatusOr<Token> first = source->GetToken();
  time_.Advance(absl::Hours(1) - absl::Seconds(60) - absl::Milliseconds(1));
  absl::StatusOr<std::string> header = source->Authorization();

  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->access_token, "t1");
  EXPECT_EQ(first->expires_at, kStart + absl::Hours(1));
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(*header, "Bearer t1");
  EXPECT_EQ(source->rpc_count(), 1);
  EXPECT_EQ(Calls(), 1u);
}

TEST_F(TokenSourceTest, RequestCarriesMinValidityAndTheTokenOptions) {
  ASSERT_TRUE(Source(absl::Minutes(5))->GetToken().ok());

  const v1::GetAccessTokenRequest request = server_->service().token_calls()[0].request;
  EXPECT_EQ(request.client(), "reports");
  EXPECT_EQ(request.scopes(0), "api.read");
  EXPECT_EQ(request.min_validity().seconds(), 300);
}

TEST_F(TokenSourceTest, TokenIsFetchedAgainMinValidityBeforeExpiry) {
  std::shared_ptr<TokenSource> source = Source(absl::Minutes(2));
  ASSERT_TRUE(source->GetToken().ok());
  AnswerToken("t2", absl::Hours(1));

  time_.Advance(absl::Hours(1) - absl::Minutes(2));
  absl::StatusOr<Token> renewed = source->GetToken();

  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_EQ(renewed->access_token, "t2");
  EXPECT_EQ(source->rpc_count(), 2);
}

TEST_F(TokenSourceTest, ShortLivedTokenIsKeptForHalfItsLifetime) {
  AnswerToken("t1", absl::Seconds(100));
  std::shared_ptr<TokenSource> source = Source();
  ASSERT_TRUE(source->GetToken().ok());
  AnswerToken("t2", absl::Seconds(100));

  time_.Advance(absl::Seconds(49));
  absl::StatusOr<Token> kept = source->GetToken();
  time_.Advance(absl::Seconds(1));
  absl::StatusOr<Token> renewed = source->GetToken();

  ASSERT_TRUE(kept.ok() && renewed.ok());
  EXPECT_EQ(kept->access_token, "t1");
  EXPECT_EQ(renewed->access_token, "t2");
}

TEST_F(TokenSourceTest, ConcurrentCallersShareOneRpc) {
  std::shared_ptr<TokenSource> source = Source();
  server_->service().HoldTokenCalls();
  std::vector<std::string> tokens(8);
  std::vector<std::thread> callers;
  for (std::string& token : tokens) {
    callers.emplace_back([&source, &token] { token = source->GetToken().value().access_token; });
  }
  while (source->waiting_callers() < 7) std::this_thread::yield();

  server_->service().ReleaseTokenCalls();
  for (std::thread& caller : callers) caller.join();

  EXPECT_EQ(Calls(), 1u);
  EXPECT_THAT(tokens, ::testing::Each(std::string("t1")));
}

TEST_F(TokenSourceTest, ErrorKeepsItsCodeNamesTheClientAndIsNotKept) {
  std::shared_ptr<TokenSource> source = Source();
  server_->service().FailTokenWith(absl::NotFoundError("no client \"reports\" is configured"));

  absl::StatusOr<Token> failed = source->GetToken();
  AnswerToken("t2", absl::Hours(1));
  absl::StatusOr<Token> recovered = source->GetToken();

  EXPECT_EQ(failed.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(failed.status().message(), HasSubstr("agentauth: client \"reports\": no client"));
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_EQ(recovered->access_token, "t2");
}

TEST_F(TokenSourceTest, PluginAddsTheHeaderOrFailsTheCall) {
  TokenCredentialsPlugin plugin(Source());
  std::multimap<grpc::string, grpc::string> metadata;
  const NoAuthContext no_context;

  const grpc::Status added = plugin.GetMetadata("", "", no_context, &metadata);
  server_->service().FailTokenWith(absl::UnavailableError("provider down"));
  TokenCredentialsPlugin failing(Source());
  std::multimap<grpc::string, grpc::string> none;
  const grpc::Status failed = failing.GetMetadata("", "", no_context, &none);

  EXPECT_TRUE(added.ok()) << added.error_message();
  EXPECT_THAT(metadata, UnorderedElementsAre(Pair("authorization", "Bearer t1")));
  EXPECT_EQ(failed.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(none.empty());
  EXPECT_NE(TokenCallCredentials(Source()), nullptr);
}

// Serves `recorder` on 127.0.0.1 with local credentials, and returns a stub calling it with
// TokenCallCredentials over `source`.
class LocalCall {
 public:
  LocalCall(HeaderRecorder& recorder, std::shared_ptr<TokenSource> source) {
    int port = 0;
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::experimental::LocalServerCredentials(LOCAL_TCP),
                             &port);
    builder.RegisterService(&recorder);
    server_ = builder.BuildAndStart();
    grpc::ChannelArguments arguments;
    arguments.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
    stub_ = v1::TokenService::NewStub(grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", port),
        grpc::CompositeChannelCredentials(grpc::experimental::LocalCredentials(LOCAL_TCP),
                                          TokenCallCredentials(std::move(source))),
        arguments));
  }
  ~LocalCall() {
    if (server_ != nullptr) server_->Shutdown();
  }

  bool serving() const { return server_ != nullptr; }

  grpc::Status GetStatus() {
    grpc::ClientContext context;
    v1::GetStatusResponse response;
    return stub_->GetStatus(&context, v1::GetStatusRequest(), &response);
  }

 private:
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::TokenService::Stub> stub_;
};

TEST_F(TokenSourceTest, CallCredentialsCarryTheTokenOnRealCalls) {
  HeaderRecorder recorder;
  LocalCall call(recorder, Source());
  ASSERT_TRUE(call.serving());

  const grpc::Status first = call.GetStatus();
  const grpc::Status second = call.GetStatus();

  EXPECT_TRUE(first.ok()) << first.error_message();
  EXPECT_TRUE(second.ok()) << second.error_message();
  EXPECT_THAT(recorder.received(), ::testing::ElementsAre("Bearer t1", "Bearer t1"));
  EXPECT_EQ(Calls(), 1u) << "the second call used the kept token";
}

TEST_F(TokenSourceTest, CallFailsWhenNoTokenCanBeHad) {
  server_->service().FailTokenWith(absl::NotFoundError("no client \"reports\" is configured"));
  HeaderRecorder recorder;
  LocalCall call(recorder, Source());
  ASSERT_TRUE(call.serving());

  const grpc::Status status = call.GetStatus();

  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.error_message(), HasSubstr("no client \"reports\" is configured"));
  EXPECT_TRUE(recorder.received().empty()) << "the call must not reach the server";
}

}  // namespace
}  // namespace agentauth
