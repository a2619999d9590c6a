// What an operator's tools see of a running agentauthd: Prometheus metrics over HTTP, the
// grpc.health.v1 service Kubernetes probes call, and server reflection for generic gRPC tools.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/byte_buffer.h>

#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/agentauth_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/app/agentauth_server.h"
#include "server/http/curl_http_client.h"
#include "tests/testing/captured_log.h"
#include "tests/testing/dev_idp.h"
#include "tests/testing/fake_scheduler.h"
#include "tests/testing/grpc_probes.h"
#include "tests/testing/status_printing.h"
#include "tests/testing/temp_dir.h"

namespace agentauth {
namespace {

using ::testing::HasSubstr;
using testing::HealthCheck;
using testing::HealthWatch;
using testing::kNotServing;
using testing::kServing;
using testing::ListServicesCall;
using ::testing::Not;

// `name{grpc_code="CODE",grpc_method="METHOD",...}` as prometheus-cpp writes the labels (sorted).
std::string RpcSeries(const std::string& name, const std::string& method,
                      const std::string& code = "") {
  return absl::StrCat(name, "{", code.empty() ? "" : absl::StrCat("grpc_code=\"", code, "\","),
                      "grpc_method=\"", method,
                      "\",grpc_service=\"agentauth.v1.TokenService\",grpc_type=\"unary\"}");
}

// The value of the sample `series` (name with labels, exactly as exposed), or -1.
double Sample(const std::string& metrics, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(metrics, '\n')) {
    if (absl::StartsWith(line, series + " "))
      return std::stod(std::string(line.substr(series.size() + 1)));
  }
  return -1;
}

class OperationsTest : public ::testing::Test {
 protected:
  OperationsTest()
      : idp_(&testing::DevIdp::Shared()),
        dir_(temp_.path()),
        logger_(clock_, LogLevel::kDebug, LogFormat::kText, log_.Sink()) {
    temp_.Write("secret", absl::StrCat(testing::kBasicClientSecret, "\n"));
  }
  ~OperationsTest() override { server_.reset(); }

  void StartServer(const std::string& authority, bool prewarm) {
    const std::string text =
        absl::StrCat(R"({"listen": "127.0.0.1:0", "metrics_listen": "127.0.0.1:0", "prewarm": )",
                     prewarm ? "true" : "false", R"(, "defaults": {"authority": ")", authority,
                     R"(", "http": {"timeout": "2s"}}, "clients": [{"name": "reports", "client_id":
        "demo-agent", "client_secret_file": ")",
                     dir_, R"(/secret", "scopes": "api.read"}]})");
    absl::StatusOr<Config> config = ParseConfig(text, SecretSources::Real());
    ASSERT_TRUE(config.ok()) << config.status();
    absl::StatusOr<std::unique_ptr<AgentAuthServer>> server = AgentAuthServer::Start(
        *std::move(config), ServerOptions{.version = "9.9.9-test"},
        {clock_, logger_, http_, scheduler_, random_, SecretSources::Real()});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    client_ = std::make_unique<Client>(channel_);
  }

  std::string Scrape() {
    HttpRequest request;
    request.url = absl::StrCat("http://", server_->metrics_address(), "/metrics");
    absl::StatusOr<HttpResponse> response = http_.Send(request);
    EXPECT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response.value_or(HttpResponse{}).status, 200);
    return response.ok() ? response->body : "";
  }

  const testing::DevIdp* idp_;
  testing::TempDir temp_;
  std::string dir_;
  testing::FakeClock clock_;
  testing::FakeScheduler scheduler_{clock_};
  testing::FixedRandom random_;
  testing::CapturedLog log_;
  Logger logger_;
  CurlHttpClient http_;
  std::unique_ptr<AgentAuthServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<Client> client_;
};

TEST_F(OperationsTest, MetricsCountWhatHappened) {
  StartServer(idp_->issuer(), /*prewarm=*/false);

  absl::StatusOr<v1::GetAccessTokenResponse> first = client_->GetAccessToken({.client = "reports"});
  absl::StatusOr<v1::GetAccessTokenResponse> second =
      client_->GetAccessToken({.client = "reports"});
  absl::StatusOr<v1::GetAccessTokenResponse> unknown =
      client_->GetAccessToken({.client = "nobody"});
  const std::string metrics = Scrape();

  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(Sample(metrics,
                   R"(agentauth_token_requests_total{client="reports",code="OK",result="miss"})"),
            1);
  EXPECT_EQ(
      Sample(metrics, R"(agentauth_token_requests_total{client="reports",code="OK",result="hit"})"),
      1);
  EXPECT_EQ(Sample(metrics, RpcSeries("grpc_server_handled_total", "GetAccessToken", "OK")), 2);
  EXPECT_EQ(Sample(metrics, RpcSeries("grpc_server_handled_total", "GetAccessToken", "NOT_FOUND")),
            1);
  EXPECT_EQ(Sample(metrics, RpcSeries("grpc_server_started_total", "GetAccessToken")), 3);
  EXPECT_EQ(
      Sample(metrics, R"(agentauth_provider_requests_total{client="reports",kind="discovery",)"
                      R"(outcome="success"})"),
      1);
  EXPECT_EQ(
      Sample(
          metrics,
          R"(agentauth_provider_requests_total{client="reports",kind="token",outcome="success"})"),
      1);
  EXPECT_EQ(Sample(metrics, R"(agentauth_client_state{client="reports",state="ok"})"), 1);
  EXPECT_EQ(Sample(metrics, R"(agentauth_client_state{client="reports",state="failing"})"), 0);
  EXPECT_EQ(Sample(metrics, R"(agentauth_token_expiry_seconds{client="reports"})"), 3600);
  EXPECT_EQ(Sample(metrics, R"(agentauth_token_waiters{client="reports"})"), 0);
  EXPECT_EQ(Sample(metrics, R"(agentauth_build_info{version="9.9.9-test"})"), 1);
  EXPECT_GT(Sample(metrics, "process_resident_memory_bytes"), 1 << 20);
  EXPECT_GT(Sample(metrics, "process_open_fds"), 3);
  EXPECT_GT(Sample(metrics, "process_start_time_seconds"), 1.7e9);
  EXPECT_THAT(metrics, Not(HasSubstr(first->access_token())));
  EXPECT_THAT(metrics, Not(HasSubstr(testing::kBasicClientSecret)));
}

TEST_F(OperationsTest, ProviderFailuresAreCountedByOutcomeAndOAuthError) {
  std::ofstream(dir_ + "/secret") << "wrong-secret\n";
  StartServer(idp_->issuer(), /*prewarm=*/false);

  absl::StatusOr<v1::GetAccessTokenResponse> token = client_->GetAccessToken({.client = "reports"});
  const std::string metrics = Scrape();

  EXPECT_EQ(token.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Sample(metrics, R"(agentauth_provider_requests_total{client="reports",kind="token",)"
                            R"(outcome="oauth_error"})"),
            1);
  EXPECT_EQ(Sample(metrics, R"(agentauth_provider_oauth_errors_total{client="reports",)"
                            R"(error="invalid_client"})"),
            1);
  EXPECT_EQ(Sample(metrics,
                   R"(agentauth_token_requests_total{client="reports",code="FAILED_PRECONDITION",)"
                   R"(result="error"})"),
            1);
  EXPECT_EQ(Sample(metrics, R"(agentauth_client_state{client="reports",state="failing"})"), 1);
  EXPECT_EQ(Sample(metrics, R"(agentauth_client_consecutive_failures{client="reports"})"), 1);
  EXPECT_THAT(metrics, Not(HasSubstr("wrong-secret")));
}

TEST_F(OperationsTest, HealthIsServingOnceEveryPrewarmedClientHasAToken) {
  StartServer(absl::StrCat("http://127.0.0.1:", testing::UnusedLoopbackPort()), /*prewarm=*/true);

  // The provider is down and the failure is transient: not ready.
  EXPECT_EQ(HealthCheck(channel_, ""), kNotServing);
  EXPECT_EQ(HealthCheck(channel_, "agentauth.v1.TokenService"), kNotServing);
}

TEST_F(OperationsTest, HealthTurnsServingWhenPrewarmCompletes) {
  StartServer(idp_->issuer(), /*prewarm=*/true);

  // Joins the prewarm fetch; health is updated before its waiters are answered.
  ASSERT_TRUE(client_->GetAccessToken({.client = "reports"}).ok());

  EXPECT_EQ(HealthCheck(channel_, ""), kServing);
  EXPECT_EQ(HealthCheck(channel_, "agentauth.v1.TokenService"), kServing);
  grpc::Status unknown;
  EXPECT_EQ(HealthCheck(channel_, "no.such.Service", &unknown), -1);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(OperationsTest, HealthWatchersSeeNotServingWhenTheServerDrains) {
  StartServer(idp_->issuer(), /*prewarm=*/true);
  ASSERT_TRUE(client_->GetAccessToken({.client = "reports"}).ok());
  auto watch = std::make_unique<testing::HealthWatch>(channel_, "");
  ASSERT_TRUE(watch->WaitFor(kServing));

  std::thread drain([&] { server_->Shutdown(absl::Seconds(5)); });
  const bool saw_not_serving = watch->WaitFor(kNotServing);
  watch.reset();  // Ends the stream, so that the drain need not wait out its grace.
  drain.join();

  EXPECT_TRUE(saw_not_serving) << "probes must see NOT_SERVING before calls are refused";
}

TEST_F(OperationsTest, ReflectionListsTheServices) {
  StartServer(idp_->issuer(), /*prewarm=*/false);

  ListServicesCall call(channel_);
  std::string answer;
  const grpc::Status status = call.Await(&answer);

  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(answer, HasSubstr("agentauth.v1.TokenService"));
  EXPECT_THAT(answer, HasSubstr("grpc.health.v1.Health"));
}

}  // namespace
}  // namespace agentauth
