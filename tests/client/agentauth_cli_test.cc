// End-to-end tests of the `agentauth` binary against a fake TokenService in this process.

#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "agentauth/v1/token_service.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/client/fake_token_service.h"
#include "tests/testing/subprocess.h"

#ifndef AGENTAUTH_CLI_PATH
#error "AGENTAUTH_CLI_PATH must name the agentauth binary under test"
#endif

namespace agentauth {
namespace {

using ::agentauth::testing::FakeTokenServer;
using ::agentauth::testing::ProcessResult;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::SizeIs;
using ::testing::StartsWith;

using Environment = std::vector<std::pair<std::string, std::string>>;

constexpr int kExitSuccess = 0;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;
constexpr int kExitRefused = 4;

google::protobuf::Timestamp ToProto(absl::Time time) {
  google::protobuf::Timestamp timestamp;
  timestamp.set_seconds(absl::ToUnixSeconds(time));
  return timestamp;
}

v1::GetStatusResponse TwoClients() {
  v1::GetStatusResponse response;
  response.set_server_version("1.2.3");
  *response.mutable_start_time() = ToProto(absl::FromUnixSeconds(1767225600));
  v1::ClientStatus& reports = *response.add_clients();
  reports.set_name("reports");
  reports.set_client_id("reports-agent");
  reports.set_state(v1::CLIENT_STATE_OK);
  reports.set_has_signed_in(true);
  reports.set_is_authorized(true);
  *reports.mutable_expires_at() = ToProto(absl::Now() + absl::Hours(1));
  *reports.mutable_last_refresh() = ToProto(absl::FromUnixSeconds(1767225660));
  reports.set_cache_hits(7);
  v1::ClientStatus& billing = *response.add_clients();
  billing.set_name("billing");
  billing.set_client_id("billing-agent");
  billing.set_state(v1::CLIENT_STATE_FAILING);
  billing.set_has_expired(true);
  billing.set_consecutive_failures(3);
  billing.set_last_error("FAILED_PRECONDITION: invalid_client: bad secret");
  return response;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<FakeTokenServer>> server = FakeTokenServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    v1::GetAccessTokenResponse token;
    token.set_access_token("tok-123.abc_DEF");
    token.set_token_type("Bearer");
    token.set_authorization("Bearer tok-123.abc_DEF");
    service().AnswerTokenWith(token);
    service().AnswerStatusWith(TwoClients());
  }

  testing::FakeTokenService& service() { return server_->service(); }

  // Runs the binary with `args` against the fake service unless `args` names a --target.
  ProcessResult Run(std::vector<std::string> args, Environment environment = {}) {
    std::vector<std::string> argv = {AGENTAUTH_CLI_PATH};
    const bool has_target = std::any_of(args.begin(), args.end(), [](const std::string& arg) {
      return arg.rfind("--target", 0) == 0;
    });
    if (!has_target) argv.push_back("--target=" + server_->target());
    argv.insert(argv.end(), args.begin(), args.end());
    return RunWith(argv, std::move(environment));
  }

  // Runs `argv` as it is. The test's own environment must not leak a target or a proxy in:
  // the daemon under test is on 127.0.0.1, and only it may be reached.
  static ProcessResult RunWith(std::vector<std::string> argv, Environment environment) {
    Environment full = {
        {"AGENTAUTH_TARGET", ""}, {"grpc_proxy", ""}, {"https_proxy", ""}, {"http_proxy", ""}};
    full.insert(full.end(), environment.begin(), environment.end());
    absl::StatusOr<ProcessResult> result =
        testing::RunProcess(argv, full, /*timeout=*/absl::Seconds(30));
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *std::move(result) : ProcessResult();
  }

  std::unique_ptr<FakeTokenServer> server_;
};

// --- token ---

TEST_F(CliTest, TokenFileIsSentAsABearerTokenWithEveryCall) {
  const std::string file = ::testing::TempDir() + "/agentauth-cli-token";
  std::ofstream(file) << "sa-token-1\n";

  const ProcessResult result = Run({"--token-file", file, "token", "--client", "reports"});

  EXPECT_EQ(result.exit_code, kExitSuccess) << result.stderr_text;
  ASSERT_THAT(service().token_calls(), SizeIs(1));
  EXPECT_EQ(service().token_calls()[0].authorization, "Bearer sa-token-1");
}

TEST_F(CliTest, WithoutATokenFileNoAuthorizationIsSent) {
  const ProcessResult result = Run({"token", "--client", "reports"});

  EXPECT_EQ(result.exit_code, kExitSuccess);
  ASSERT_THAT(service().token_calls(), SizeIs(1));
  EXPECT_EQ(service().token_calls()[0].authorization, "");
}

TEST_F(CliTest, AnUnreadableTlsFileIsAUsageError) {
  const ProcessResult result =
      Run({"--tls-ca", "/nonexistent/ca.crt", "token", "--client", "reports"});

  EXPECT_EQ(result.exit_code, kExitUsage);
  EXPECT_THAT(result.stderr_text, HasSubstr("tls_ca_file: cannot read \"/nonexistent/ca.crt\""));
}

TEST_F(CliTest, TokenPrintsTheTokenAndANewlineAndNothingElse) {
  const ProcessResult result = Run({"token", "--client", "reports"});

  EXPECT_EQ(result.exit_code, kExitSuccess);
  EXPECT_EQ(result.stdout_text, "tok-123.abc_DEF\n");
  EXPECT_EQ(result.stderr_text, "");
}

TEST_F(CliTest, HeaderFlagPrintsTheWholeAuthorizationHeaderLine) {
  const ProcessResult result = Run({"token", "--client", "reports", "--header"});

  EXPECT_EQ(result.exit_code, kExitSuccess);
  EXPECT_EQ(result.stdout_text, "Authorization: Bearer tok-123.abc_DEF\n");
  EXPECT_EQ(result.stderr_text, "");
}

TEST_F(CliTest, TokenRequestCarriesEveryOptionOfTheCommandLine) {
  const ProcessResult result =
      Run({"token", "--client=reports", "--scope", "reports.read", "--scope", "reports.write",
           "--audience", "https://api.example.com", "--min-validity", "5m", "--force-refresh"});

  ASSERT_EQ(result.exit_code, kExitSuccess) << result.stderr_text;
  const std::vector<testing::ReceivedTokenCall> calls = service().token_calls();
  ASSERT_THAT(calls, SizeIs(1));
  const v1::GetAccessTokenRequest& request = calls[0].request;
  EXPECT_EQ(request.client(), "reports");
  EXPECT_THAT(request.scopes(), ElementsAre("reports.read", "reports.write"));
  EXPECT_EQ(request.audience(), "https://api.example.com");
  ASSERT_TRUE(request.has_min_validity());
  EXPECT_EQ(request.min_validity().seconds(), 300);
  EXPECT_TRUE(request.force_refresh());
}

TEST_F(CliTest, TokenWithoutOptionsLeavesThemToTheService) {
  const ProcessResult result = Run({"token", "--client", "reports"});

  ASSERT_EQ(result.exit_code, kExitSuccess) << result.stderr_text;
  const v1::GetAccessTokenRequest request = service().token_calls().at(0).request;
  EXPECT_THAT(request.scopes(), IsEmpty());
  EXPECT_EQ(request.audience(), "");
  EXPECT_FALSE(request.has_min_validity());
  EXPECT_FALSE(request.force_refresh());
}

TEST_F(CliTest, TimeoutFlagBoundsTheCallDeadline) {
  const absl::Time before = absl::Now();

  const ProcessResult result = Run({"--timeout", "20s", "token", "--client", "reports"});

  ASSERT_EQ(result.exit_code, kExitSuccess) << result.stderr_text;
  const absl::Time deadline = absl::FromChrono(service().token_calls().at(0).deadline);
  EXPECT_LE(deadline, absl::Now() + absl::Seconds(21));
  EXPECT_GE(deadline, before + absl::Seconds(15));
}

// --- status ---

TEST_F(CliTest, StatusPrintsATableWithEveryClient) {
  const ProcessResult result = Run({"status"});

  EXPECT_EQ(result.exit_code, kExitSuccess);
  EXPECT_EQ(result.stderr_text, "");
  EXPECT_THAT(result.stdout_text,
              StartsWith("server version 1.2.3, started 2026-01-01T00:00:00Z\n\nNAME "));
  EXPECT_THAT(result.stdout_text,
              MatchesRegex(".*\nreports +OK +yes +59m[0-9]+s +2026-01-01T00:01:00Z +0 +-\n"
                           ".*"));
  EXPECT_THAT(result.stdout_text,
              HasSubstr("\nbilling  FAILING  no          -           -                     3 "
                        "        FAILED_PRECONDITION: invalid_client: bad secret\n"));
  ASSERT_THAT(service().status_requests(), SizeIs(1));
  EXPECT_EQ(service().status_requests()[0].client(), "");
}

TEST_F(CliTest, StatusClientFlagAsksForThatClientOnly) {
  const ProcessResult result = Run({"status", "--client", "billing"});

  EXPECT_EQ(result.exit_code, kExitSuccess);
  ASSERT_THAT(service().status_requests(), SizeIs(1));
  EXPECT_EQ(service().status_requests()[0].client(), "billing");
}

TEST_F(CliTest, StatusJsonPrintsTheResponseWithProtoFieldNamesAndDefaults) {
  const ProcessResult result = Run({"status", "--json"});

  ASSERT_EQ(result.exit_code, kExitSuccess) << result.stderr_text;
  v1::GetStatusResponse parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(result.stdout_text, &parsed).ok())
      << result.stdout_text;
  v1::GetStatusResponse expected = TwoClients();
  // The fake answered with the expiry it computed when SetUp ran; take it from the answer.
  *expected.mutable_clients(0)->mutable_expires_at() = parsed.clients(0).expires_at();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(parsed, expected))
      << result.stdout_text;
  EXPECT_THAT(result.stdout_text, HasSubstr("\"server_version\":\"1.2.3\""));
  EXPECT_THAT(result.stdout_text, HasSubstr("\"consecutive_failures\":0"));
  EXPECT_THAT(result.stdout_text, HasSubstr("\"state\":\"CLIENT_STATE_FAILING\""));
  EXPECT_THAT(result.stdout_text, MatchesRegex("\\{[^\n]*\\}\n"));
}

// --- the service refuses ---

TEST_F(CliTest, NotFoundFromTheServiceExitsWith4AndNamesCodeAndMessage) {
  service().FailTokenWith(absl::NotFoundError("unknown client \"reports\""));

  const ProcessResult result = Run({"token", "--client", "reports"});

  EXPECT_EQ(result.exit_code, kExitRefused);
  EXPECT_EQ(result.stdout_text, "");
  EXPECT_EQ(result.stderr_text,
            "agentauth: token for client \"reports\": NOT_FOUND: unknown client \"reports\"\n");
}

TEST_F(CliTest, ProviderUnavailableRelayedByTheServiceIsARefusalNotUnreachable) {
  service().FailTokenWith(absl::UnavailableError("reports: provider answered 503"));

  const ProcessResult result = Run({"token", "--client", "reports"});

  EXPECT_EQ(result.exit_code, kExitRefused);
  EXPECT_EQ(result.stderr_text,
            "agentauth: token for client \"reports\": UNAVAILABLE: reports: provider answered "
            "503\n");
}

TEST_F(CliTest, StatusErrorExitsWith4AndNamesTheClient) {
  service().FailStatusWith(absl::NotFoundError("unknown client \"nope\""));

  const ProcessResult result = Run({"status", "--client", "nope"});

  EXPECT_EQ(result.exit_code, kExitRefused);
  EXPECT_EQ(result.stdout_text, "");
  EXPECT_EQ(result.stderr_text,
            "agentauth: status of client \"nope\": NOT_FOUND: unknown client \"nope\"\n");
}

TEST_F(CliTest, ServiceTooSlowForTheTimeoutExitsWith4WithDeadlineExceeded) {
  service().HoldTokenCalls();

  const ProcessResult result = Run({"token", "--client", "reports", "--timeout", "1s"});

  service().ReleaseTokenCalls();
  EXPECT_EQ(result.exit_code, kExitRefused);
  EXPECT_THAT(result.stderr_text,
              StartsWith("agentauth: token for client \"reports\": DEADLINE_EXCEEDED: "));
}

TEST_F(CliTest, TokenThatCannotBePutOnAHeaderLineIsRefusedAndNotPrinted) {
  v1::GetAccessTokenResponse token;
  token.set_access_token("secret-part\nX-Injected: yes");
  service().AnswerTokenWith(token);

  const ProcessResult result = Run({"token", "--client", "reports", "--header"});

  EXPECT_EQ(result.exit_code, kExitRefused);
  EXPECT_EQ(result.stdout_text, "");
  EXPECT_EQ(result.stderr_text,
            "agentauth: token for client \"reports\": INTERNAL: the daemon answered with a token "
            "that is not visible ASCII\n");
}

// --- the service cannot be reached ---

TEST_F(CliTest, UnreachableTargetExitsWith3WithinTheTimeout) {
  absl::StatusOr<int> port = testing::UnusedLoopbackPort();
  ASSERT_TRUE(port.ok()) << port.status();
  const std::string target = absl::StrCat("127.0.0.1:", *port);
  const absl::Time start = absl::Now();

  const ProcessResult result =
      Run({"token", "--client", "reports", "--target", target, "--timeout", "1s"});

  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(result.exit_code, kExitUnreachable);
  EXPECT_EQ(result.stdout_text, "");
  EXPECT_THAT(result.stderr_text,
              MatchesRegex(absl::StrCat("agentauth: connecting to agentauth at ", target,
                                        ": UNAVAILABLE: no connection within 1s \\(channel state: "
                                        "[A-Z_]+\\)\n")));
}

TEST_F(CliTest, AgentauthTargetFromTheEnvironmentIsUsedWithoutTargetFlag) {
  const ProcessResult result = RunWith({AGENTAUTH_CLI_PATH, "token", "--client", "reports"},
                                       {{"AGENTAUTH_TARGET", server_->target()}});

  EXPECT_EQ(result.exit_code, kExitSuccess) << result.stderr_text;
  EXPECT_EQ(result.stdout_text, "tok-123.abc_DEF\n");
}

TEST_F(CliTest, TargetFlagWinsOverTheEnvironment) {
  absl::StatusOr<int> port = testing::UnusedLoopbackPort();
  ASSERT_TRUE(port.ok()) << port.status();

  const ProcessResult result =
      RunWith({AGENTAUTH_CLI_PATH, "token", "--client", "reports", "--target", server_->target()},
              {{"AGENTAUTH_TARGET", absl::StrCat("127.0.0.1:", *port)}});

  EXPECT_EQ(result.exit_code, kExitSuccess) << result.stderr_text;
  EXPECT_EQ(result.stdout_text, "tok-123.abc_DEF\n");
}

// --- health ---

TEST_F(CliTest, HealthOfAServingDaemonPrintsServingAndExits0) {
  const ProcessResult result = Run({"health"});

  EXPECT_EQ(result.exit_code, kExitSuccess) << result.stderr_text;
  EXPECT_EQ(result.stdout_text, "SERVING\n");
  EXPECT_EQ(result.stderr_text, "");
}

TEST_F(CliTest, HealthOfANotServingDaemonPrintsTheStatusAndExits4) {
  server_->health().SetServingStatus(false);

  const ProcessResult result = Run({"health"});

  EXPECT_EQ(result.exit_code, kExitRefused);
  EXPECT_EQ(result.stdout_text, "NOT_SERVING\n");
  EXPECT_EQ(result.stderr_text, "agentauth: health: NOT_SERVING\n");
}

TEST_F(CliTest, HealthServiceFlagAsksAboutThatService) {
  server_->health().SetServingStatus(false);
  server_->health().SetServingStatus("agentauth.v1.TokenService", true);

  const ProcessResult serving = Run({"health", "--service", "agentauth.v1.TokenService"});
  server_->health().SetServingStatus("agentauth.v1.TokenService", false);
  const ProcessResult not_serving = Run({"health", "--service=agentauth.v1.TokenService"});

  EXPECT_EQ(serving.exit_code, kExitSuccess) << serving.stderr_text;
  EXPECT_EQ(serving.stdout_text, "SERVING\n");
  EXPECT_EQ(not_serving.exit_code, kExitRefused);
  EXPECT_EQ(not_serving.stderr_text,
            "agentauth: health of service \"agentauth.v1.TokenService\": NOT_SERVING\n");
}

TEST_F(CliTest, HealthOfAnUnknownServiceExitsWith4WithNotFound) {
  const ProcessResult result = Run({"health", "--service", "no.such.Service"});

  EXPECT_EQ(result.exit_code, kExitRefused);
  EXPECT_EQ(result.stdout_text, "");
  EXPECT_THAT(result.stderr_text,
              StartsWith("agentauth: health of service \"no.such.Service\": NOT_FOUND: "));
}

TEST_F(CliTest, HealthOfAnUnreachableDaemonExitsWith3) {
  absl::StatusOr<int> port = testing::UnusedLoopbackPort();
  ASSERT_TRUE(port.ok()) << port.status();
  const std::string target = absl::StrCat("127.0.0.1:", *port);

  const ProcessResult result = Run({"health", "--target", target, "--timeout", "1s"});

  EXPECT_EQ(result.exit_code, kExitUnreachable);
  EXPECT_EQ(result.stdout_text, "");
  EXPECT_THAT(result.stderr_text,
              StartsWith(absl::StrCat("agentauth: connecting to agentauth at ", target,
                                      ": UNAVAILABLE: no connection within 1s")));
}

TEST_F(CliTest, HealthWithAnUnreadableTokenFileExitsWith4NamingTheFile) {
  const ProcessResult result = Run({"--token-file", "/nonexistent/token", "health"});

  EXPECT_EQ(result.exit_code, kExitRefused);
  EXPECT_EQ(result.stderr_text,
            "agentauth: health: FAILED_PRECONDITION: cannot read the token file "
            "\"/nonexistent/token\"\n");
}

TEST_F(CliTest, ServiceFlagOutsideHealthIsAUsageError) {
  const ProcessResult result = Run({"status", "--service", "x"});

  EXPECT_EQ(result.exit_code, kExitUsage);
  EXPECT_THAT(result.stderr_text, StartsWith("agentauth: --service: not an option of status\n"));
}

// --- the command line is wrong, or asks for help ---

TEST_F(CliTest, MissingClientExitsWith2WithTheProblemAndAShortUsage) {
  const ProcessResult result = Run({"token"});

  EXPECT_EQ(result.exit_code, kExitUsage);
  EXPECT_EQ(result.stdout_text, "");
  EXPECT_THAT(result.stderr_text,
              StartsWith("agentauth: token: --client is required\nusage: agentauth "));
  EXPECT_THAT(service().token_calls(), IsEmpty());
}

TEST_F(CliTest, BadDurationExitsWith2NamingTheFlagAndValue) {
  const ProcessResult result = Run({"token", "--client", "x", "--min-validity", "-5m"});

  EXPECT_EQ(result.exit_code, kExitUsage);
  EXPECT_THAT(result.stderr_text, StartsWith("agentauth: --min-validity: negative duration: "
                                             "\"-5m\"\n"));
}

TEST_F(CliTest, MissingCommandExitsWith2) {
  const ProcessResult result = RunWith({AGENTAUTH_CLI_PATH}, {});

  EXPECT_EQ(result.exit_code, kExitUsage);
  EXPECT_THAT(result.stderr_text,
              StartsWith("agentauth: missing command (token, status or health)\n"));
}

TEST_F(CliTest, HelpPrintsTheUsageAndExitCodesToStdoutAndExits0) {
  const ProcessResult result = RunWith({AGENTAUTH_CLI_PATH, "--help"}, {});

  EXPECT_EQ(result.exit_code, kExitSuccess);
  EXPECT_EQ(result.stderr_text, "");
  EXPECT_THAT(result.stdout_text, StartsWith("agentauth: access tokens"));
  EXPECT_THAT(result.stdout_text, HasSubstr("Exit status:"));
}

TEST_F(CliTest, VersionPrintsTheVersionAndExits0) {
  const ProcessResult result = RunWith({AGENTAUTH_CLI_PATH, "status", "--version"}, {});

  EXPECT_EQ(result.exit_code, kExitSuccess);
  EXPECT_THAT(result.stdout_text, MatchesRegex("agentauth [0-9.]+ \\(gRPC [0-9.]+\\)\n"));
}

}  // namespace
}  // namespace agentauth
