// The agentauthd binary as an operator runs it: config file, flags, logs on stderr, signals.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/agentauth_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/http/curl_http_client.h"
#include "tests/integration/daemon_process.h"
#include "tests/testing/child_process.h"
#include "tests/testing/dev_idp.h"
#include "tests/testing/grpc_probes.h"
#include "tests/testing/status_printing.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_keys.h"

namespace agentauth {
namespace {

using testing::ChildProcess;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSecret[] = "demo-agent-secret";

class DaemonTest : public ::testing::Test {
 protected:
  DaemonTest() : idp_(&testing::DevIdp::Shared()), dir_(temp_.path()) {
    temp_.Write("secret", absl::StrCat(kSecret, "\n"));
  }

  std::string WriteConfig(const std::string& text) {
    const std::string path = dir_ + "/config.json";
    std::ofstream(path) << text;
    return path;
  }

  std::string ValidConfig() {
    return WriteConfig(absl::StrCat(R"({"listen": "127.0.0.1:0", "metrics_listen": "127.0.0.1:0",
      "defaults": {"authority": ")",
                                    idp_->issuer(), R"("},
      "clients": [{"name": "reports", "client_id": "demo-agent",
                   "client_secret_file": ")",
                                    dir_, R"(/secret", "scopes": ["itwin-platform"]}]})"));
  }

  const testing::DevIdp* idp_;
  testing::TempDir temp_;
  std::string dir_;
};

TEST_F(DaemonTest, ServesTokensLogsJsonAndStopsCleanlyOnSigterm) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> daemon =
      ChildProcess::Start({AGENTAUTHD_PATH, "--config", ValidConfig(), "--log-format", "json"});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  absl::StatusOr<std::string> listening = (*daemon)->WaitForLine(
      ChildProcess::Stream::kStderr,
      [](const std::string& line) { return absl::StrContains(line, "\"listening\""); },
      absl::Seconds(20));
  ASSERT_TRUE(listening.ok()) << listening.status();
  const nlohmann::json started = nlohmann::json::parse(*listening);

  Client client(started["address"].get<std::string>());
  absl::StatusOr<v1::GetAccessTokenResponse> token = client.GetAccessToken({.client = "reports"});
  absl::StatusOr<int> exit_code = (*daemon)->Stop(SIGTERM, absl::Seconds(15));

  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(started["clients"], "reports");
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0);
  const std::string log = (*daemon)->Output(ChildProcess::Stream::kStderr);
  EXPECT_THAT(log, HasSubstr("\"event\":\"stopping\",\"reason\":\"SIGTERM\""));
  for (absl::string_view line : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
    EXPECT_TRUE(nlohmann::json::accept(line)) << "not JSON: " << line;
    EXPECT_THAT(std::string(line), Not(HasSubstr(kSecret)));
    EXPECT_THAT(std::string(line), Not(HasSubstr(token->access_token())));
  }
}

// Starts agentauthd with `flags` and returns it with the JSON of its "listening" line.
absl::StatusOr<std::pair<std::unique_ptr<ChildProcess>, nlohmann::json>> StartDaemon(
    const std::string& config, std::vector<std::string> flags) {
  std::vector<std::string> argv = {AGENTAUTHD_PATH, "--config", config, "--log-format", "json"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  return testing::StartListeningDaemon(argv);
}

TEST_F(DaemonTest, ServesMetricsHealthAndReflection) {
  auto started = StartDaemon(ValidConfig(), {});
  ASSERT_TRUE(started.ok()) << started.status();
  auto& [daemon, listening] = *started;
  auto channel = grpc::CreateChannel(listening["address"].get<std::string>(),
                                     grpc::InsecureChannelCredentials());
  Client client(channel);
  ASSERT_TRUE(client.GetAccessToken({.client = "reports"}).ok());

  CurlHttpClient http;
  HttpRequest scrape;
  scrape.url = listening["metrics"].get<std::string>();
  absl::StatusOr<HttpResponse> metrics = http.Send(scrape);
  testing::ListServicesCall reflection(channel);
  std::string services;
  const grpc::Status reflection_status = reflection.Await(&services);

  ASSERT_TRUE(metrics.ok()) << metrics.status();
  const std::string scraped = dir_ + "/metrics.txt";
  std::ofstream(scraped) << metrics->body;
  absl::StatusOr<testing::ProcessResult> promtool = testing::RunProcess(
      {"/bin/sh", "-c",
       absl::StrCat(AGENTAUTH_SOURCE_DIR "/scripts/promtool.sh check metrics < ", scraped)},
      {}, absl::Seconds(30));
  ASSERT_TRUE(promtool.ok()) << promtool.status();
  EXPECT_EQ(promtool->exit_code, 0) << promtool->stdout_text << promtool->stderr_text;
  EXPECT_THAT(metrics->body, HasSubstr("agentauth_build_info{version="));
  EXPECT_THAT(metrics->body,
              HasSubstr("agentauth_client_state{client=\"reports\",state=\"ok\"} 1"));
  EXPECT_EQ(testing::HealthCheck(channel, ""), testing::kServing);
  EXPECT_TRUE(reflection_status.ok()) << reflection_status.error_message();
  EXPECT_THAT(services, HasSubstr("agentauth.v1.TokenService"));
}

TEST_F(DaemonTest, ReflectionCanBeTurnedOff) {
  auto started = StartDaemon(ValidConfig(), {"--no-reflection"});
  ASSERT_TRUE(started.ok()) << started.status();
  auto channel = grpc::CreateChannel(started->second["address"].get<std::string>(),
                                     grpc::InsecureChannelCredentials());

  testing::ListServicesCall reflection(channel);
  std::string services;
  const grpc::Status status = reflection.Await(&services);

  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED) << "answer: " << services.size();
  EXPECT_EQ(started->second["reflection"], "off");
}

TEST_F(DaemonTest, SighupReloadsAValidConfigAndKeepsTheOldOneOnErrors) {
  const std::string config = ValidConfig();
  auto started = StartDaemon(config, {});
  ASSERT_TRUE(started.ok()) << started.status();
  auto& [daemon, listening] = *started;
  Client client(listening["address"].get<std::string>());
  const auto reloaded_with = [&](const std::string& event) {
    return daemon->WaitForLine(
        ChildProcess::Stream::kStderr,
        [&](const std::string& line) { return absl::StrContains(line, event); }, absl::Seconds(20));
  };

  std::ofstream(config) << "{not json";
  kill(daemon->pid(), SIGHUP);
  absl::StatusOr<std::string> failed = reloaded_with("\"reload_failed\"");
  absl::StatusOr<v1::GetAccessTokenResponse> still_served =
      client.GetAccessToken({.client = "reports"});
  std::ofstream(config) << absl::StrCat(R"({"listen": "127.0.0.1:0",
      "metrics_listen": "127.0.0.1:0", "defaults": {"authority": ")",
                                        idp_->issuer(), R"("},
      "clients": [{"name": "exports", "client_id": "demo-agent",
                   "client_secret_file": ")",
                                        dir_, R"(/secret"}]})");
  kill(daemon->pid(), SIGHUP);
  absl::StatusOr<std::string> reloaded = reloaded_with("\"reloaded\"");
  absl::StatusOr<v1::GetAccessTokenResponse> added = client.GetAccessToken({.client = "exports"});
  absl::StatusOr<v1::GetAccessTokenResponse> removed = client.GetAccessToken({.client = "reports"});
  absl::StatusOr<int> exit_code = daemon->Stop(SIGTERM, absl::Seconds(15));

  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_THAT(*failed, HasSubstr("kept the previous configuration"));
  EXPECT_TRUE(still_served.ok()) << still_served.status();
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(removed.status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0);
}

TEST_F(DaemonTest, SigtermWithAHungProviderExitsAfterTheGraceNotTheHttpTimeout) {
  const int hung_port = testing::UnusedLoopbackPort();
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(hung_port));
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(listener, 16), 0);  // Accepts into the backlog, never answers.
  const std::string config = WriteConfig(absl::StrCat(
      R"({"listen": "127.0.0.1:0", "metrics_listen": "127.0.0.1:0",
          "defaults": {"authority": "http://127.0.0.1:)",
      hung_port, R"(",
                       "http": {"timeout": "5m"}},
          "clients": [{"name": "reports", "client_id": "demo-agent",
                       "client_secret_file": ")",
      dir_, R"(/secret"}]})"));
  auto started = StartDaemon(config, {"--shutdown-grace", "1s"});
  ASSERT_TRUE(started.ok()) << started.status();
  auto& daemon = started->first;

  // Without aborting the prewarm fetch, the exit would wait for its 5-minute HTTP timeout.
  absl::StatusOr<int> exit_code = daemon->Stop(SIGTERM, absl::Seconds(60));
  close(listener);

  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0);
}

TEST_F(DaemonTest, CheckConfigSummarizesAValidConfigWithoutTheSecret) {
  absl::StatusOr<testing::ProcessResult> result = testing::RunProcess(
      {AGENTAUTHD_PATH, "--config", ValidConfig(), "--check-config"}, {}, absl::Seconds(20));

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 0) << result->stderr_text;
  EXPECT_THAT(result->stdout_text, HasSubstr("config OK: listen 127.0.0.1:0, 1 client(s)"));
  EXPECT_THAT(result->stdout_text, HasSubstr("reports: client_id demo-agent"));
  EXPECT_THAT(result->stdout_text, Not(HasSubstr(kSecret)));
}

TEST_F(DaemonTest, InvalidConfigExitsNonZeroNamingThePath) {
  const std::string path = WriteConfig(absl::StrCat(R"({"clients": [{"name": "reports",
      "client_id": "demo-agent", "client_secret_file": ")",
                                                    dir_, R"(/secret", "scopes": ["openid"]}]})"));

  absl::StatusOr<testing::ProcessResult> result = testing::RunProcess(
      {AGENTAUTHD_PATH, "--config", path, "--check-config"}, {}, absl::Seconds(20));

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 2);
  EXPECT_THAT(result->stderr_text,
              HasSubstr("clients[0].scopes[0]: client \\\"reports\\\" may not ask for scope "
                        "\\\"openid\\\""));
}

TEST_F(DaemonTest, CheckConfigNamesTheKeyFileNeverTheKey) {
  const std::string key = testing::NewEcKeyPem();
  const std::string key_file = temp_.Write("agent.key", key);
  const std::string path = WriteConfig(absl::StrCat(R"({"clients": [{"name": "reports",
      "client_id": "es256-agent", "key_id": "k-1", "private_key_file": ")",
                                                    key_file, R"("}]})"));

  absl::StatusOr<testing::ProcessResult> result = testing::RunProcess(
      {AGENTAUTHD_PATH, "--config", path, "--check-config"}, {}, absl::Seconds(20));

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 0) << result->stderr_text;
  EXPECT_THAT(result->stdout_text,
              HasSubstr(absl::StrCat("auth_method automatic, private key ", key_file, " (ES256)")));
  EXPECT_THAT(result->stdout_text, Not(HasSubstr("PRIVATE KEY")));
}

TEST_F(DaemonTest, WorldReadableKeyStopsTheStartNamingTheFileAndItsMode) {
  const std::string key_file = temp_.Write("agent.key", testing::NewEcKeyPem());
  chmod(key_file.c_str(), 0644);
  const std::string path = WriteConfig(absl::StrCat(R"({"clients": [{"name": "reports",
      "client_id": "es256-agent", "private_key_file": ")",
                                                    key_file, R"("}]})"));

  absl::StatusOr<testing::ProcessResult> result =
      testing::RunProcess({AGENTAUTHD_PATH, "--config", path}, {}, absl::Seconds(20));

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 2);
  EXPECT_THAT(result->stderr_text, HasSubstr(absl::StrCat("clients[0].private_key_file: \\\"",
                                                          key_file, "\\\" has mode 0644")));
  EXPECT_THAT(result->stderr_text, HasSubstr("chmod 600"));
}

TEST_F(DaemonTest, MissingConfigFlagIsAUsageError) {
  absl::StatusOr<testing::ProcessResult> result =
      testing::RunProcess({AGENTAUTHD_PATH}, {}, absl::Seconds(20));

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 2);
  EXPECT_THAT(result->stderr_text, HasSubstr("--config FILE is required"));
}

TEST_F(DaemonTest, UnreadableConfigFileIsNamed) {
  absl::StatusOr<testing::ProcessResult> result = testing::RunProcess(
      {AGENTAUTHD_PATH, "--config", dir_ + "/none.json"}, {}, absl::Seconds(20));

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 2);
  EXPECT_THAT(result->stderr_text, HasSubstr("none.json"));
}

}  // namespace
}  // namespace agentauth
