// The helpers of four languages (client/python, client/go, client/node, client/) against one
// live agentauthd and the development identity provider. Each language's probe program
// (tests/polyglot/*_probe*) fetches a token, uses it a second time on an API that checks it,
// then asks for an unknown client and an unreachable daemon, and prints what it saw as JSON.
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/http/curl_http_client.h"
#include "tests/testing/child_process.h"
#include "tests/testing/dev_idp.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace agentauth {
namespace {

using testing::ChildProcess;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kClient[] = "polyglot";

struct Language {
  std::string name;
  std::vector<std::string> command;
  std::vector<std::pair<std::string, std::string>> env;
};

std::vector<Language> Languages() {
  return {
      {"python",
       {AGENTAUTH_PYTHON, AGENTAUTH_SOURCE_DIR "/tests/polyglot/python_probe.py"},
       {{"PYTHONPATH", AGENTAUTH_PYTHONPATH}, {"PYTHONDONTWRITEBYTECODE", "1"}}},
      {"go", {GO_PROBE_PATH}, {}},
      {"node", {"node", AGENTAUTH_SOURCE_DIR "/tests/polyglot/node_probe.mjs"}, {}},
      {"cpp", {CPP_PROBE_PATH}, {}},
  };
}

// GetAccessToken calls the daemon has started, from its Prometheus metrics.
int StartedTokenCalls(const std::string& metrics_url) {
  CurlHttpClient http;
  HttpRequest request;
  request.url = metrics_url;
  absl::StatusOr<HttpResponse> response = http.Send(request);
  if (!response.ok()) return -1;
  for (absl::string_view line : absl::StrSplit(response->body, '\n')) {
    if (!absl::StartsWith(line, "grpc_server_started_total{") ||
        !absl::StrContains(line, "grpc_method=\"GetAccessToken\"")) {
      continue;
    }
    double value = 0;
    if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value)) return static_cast<int>(value);
  }
  return 0;
}

class PolyglotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // An own provider, so that its count of token requests is this test's alone.
    absl::StatusOr<std::unique_ptr<testing::DevIdp>> idp = testing::DevIdp::Start({});
    ASSERT_TRUE(idp.ok()) << idp.status();
    idp_ = *std::move(idp);
    temp_.Write("secret", "demo-agent-secret\n");
    const std::string config = temp_.path() + "/config.json";
    // No prewarming: the first caller, whichever language, causes the one provider request.
    std::ofstream(config) << nlohmann::json{{"listen", "127.0.0.1:0"},
                                            {"metrics_listen", "127.0.0.1:0"},
                                            {"prewarm", false},
                                            {"defaults", {{"authority", idp_->issuer()}}},
                                            {"clients",
                                             {{{"name", kClient},
                                               {"client_id", testing::kBasicClientId},
                                               {"client_secret_file", temp_.path() + "/secret"},
                                               {"scopes", {"itwin-platform"}}}}}};

    absl::StatusOr<std::unique_ptr<ChildProcess>> daemon =
        ChildProcess::Start({AGENTAUTHD_PATH, "--config", config, "--log-format", "json"});
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = *std::move(daemon);
    absl::StatusOr<std::string> listening = daemon_->WaitForLine(
        ChildProcess::Stream::kStderr,
        [](const std::string& line) { return absl::StrContains(line, "\"listening\""); },
        absl::Seconds(20));
    ASSERT_TRUE(listening.ok()) << listening.status();
    const nlohmann::json started = nlohmann::json::parse(*listening);
    target_ = started["address"].get<std::string>();
    metrics_ = started["metrics"].get<std::string>();
    unreachable_port_ = absl::StrCat(testing::UnusedLoopbackPort());
  }

  // Runs `language`'s probe and returns its JSON answer (null after a reported failure).
  nlohmann::json Probe(const Language& language) {
    std::vector<std::string> argv = language.command;
    argv.insert(argv.end(),
                {target_, kClient, "no-such-client", absl::StrCat("127.0.0.1:", unreachable_port_),
                 absl::StrCat(idp_->issuer(), "/__dev/whoami")});
    absl::StatusOr<testing::ProcessResult> result =
        testing::RunProcess(argv, language.env, absl::Seconds(60));
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return nullptr;
    EXPECT_EQ(result->exit_code, 0) << result->stderr_text;
    const nlohmann::json answer = nlohmann::json::parse(result->stdout_text, nullptr, false);
    EXPECT_TRUE(answer.is_object())
        << "stdout: " << result->stdout_text << "\nstderr: " << result->stderr_text;
    return answer.is_object() ? answer : nullptr;
  }

  testing::TempDir temp_;
  std::unique_ptr<testing::DevIdp> idp_;
  std::unique_ptr<ChildProcess> daemon_;
  std::string target_;
  std::string metrics_;
  std::string unreachable_port_;
};

TEST_F(PolyglotTest, FourLanguagesGetTheSameCachedTokenAndTheSameErrors) {
  std::map<std::string, nlohmann::json> answers;
  std::map<std::string, int> daemon_calls;
  for (const Language& language : Languages()) {
    const int before = StartedTokenCalls(metrics_);
    answers[language.name] = Probe(language);
    daemon_calls[language.name] = StartedTokenCalls(metrics_) - before;
  }
  absl::StatusOr<int> provider_requests = idp_->TokenRequests(testing::kBasicClientId);

  const std::string token = answers["python"].value("access_token", "");
  EXPECT_THAT(token, Not(::testing::IsEmpty()));
  for (const Language& language : Languages()) {
    SCOPED_TRACE(language.name);
    const nlohmann::json& answer = answers[language.name];
    ASSERT_TRUE(answer.is_object());
    EXPECT_EQ(answer["language"], language.name);
    EXPECT_EQ(answer["access_token"], token);
    // expires_at is the daemon's receipt time plus expires_in; exp the provider's issue time
    // plus the lifetime: the two may straddle a second boundary.
    EXPECT_NEAR(answer["jwt_exp"].get<double>(), answer["expires_at"].get<double>(), 2.0);
    // The helper asked once for two uses, and the daemon saw that call and the unknown client.
    EXPECT_EQ(answer["rpcs_after_two_uses"], 1);
    EXPECT_EQ(daemon_calls[language.name], 2);
    EXPECT_EQ(answer["api_status"], 200) << "the provider's API rejected the header";
    EXPECT_EQ(answer["unknown_client"]["code"], "NOT_FOUND");
    EXPECT_THAT(answer["unknown_client"]["message"].get<std::string>(),
                HasSubstr("no-such-client"));
    EXPECT_EQ(answer["unreachable"]["code"], "UNAVAILABLE");
    const std::string unreachable = answer["unreachable"]["message"].get<std::string>();
    EXPECT_THAT(unreachable, HasSubstr(unreachable_port_)) << "should name where it looked";
    EXPECT_THAT(unreachable, Not(HasSubstr(token)));
  }
  ASSERT_TRUE(provider_requests.ok()) << provider_requests.status();
  EXPECT_EQ(*provider_requests, 1) << "one provider request for all four languages";
}

}  // namespace
}  // namespace agentauth
