// The agentauthd binary as an operator runs it: config file, flags, logs on stderr, signals.
#include <signal.h>
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
#include "tests/testing/child_process.h"
#include "tests/testing/dev_idp.h"
#include "tests/testing/status_printing.h"
#include "tests/testing/subprocess.h"

namespace agentauth {
namespace {

using testing::ChildProcess;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSecret[] = "demo-agent-secret";

class DaemonTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<testing::DevIdp>> idp = testing::DevIdp::Start({});
    ASSERT_TRUE(idp.ok()) << idp.status();
    idp_ = idp->release();
  }
  static void TearDownTestSuite() { delete idp_; }

  DaemonTest() {
    char pattern[] = "/tmp/agentauthd-test-XXXXXX";
    dir_ = mkdtemp(pattern);
    std::ofstream(dir_ + "/secret") << kSecret << "\n";
  }
  ~DaemonTest() override { std::system(absl::StrCat("rm -rf '", dir_, "'").c_str()); }

  std::string WriteConfig(const std::string& text) {
    const std::string path = dir_ + "/config.json";
    std::ofstream(path) << text;
    return path;
  }

  std::string ValidConfig() {
    return WriteConfig(absl::StrCat(R"({"listen": "127.0.0.1:0",
      "defaults": {"authority": ")",
                                    idp_->issuer(), R"("},
      "clients": [{"name": "reports", "client_id": "demo-agent",
                   "client_secret_file": ")",
                                    dir_, R"(/secret", "scopes": ["itwin-platform"]}]})"));
  }

  static testing::DevIdp* idp_;
  std::string dir_;
};

testing::DevIdp* DaemonTest::idp_ = nullptr;

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
