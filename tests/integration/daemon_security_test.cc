// agentauthd's own defences, run as an operator runs it: the process cannot be dumped, an open
// client is not served beyond loopback without the explicit flag, and no secret or token ever
// leaves through logs, metrics, status answers or error messages.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

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
#include "tests/testing/status_printing.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_jwt.h"

namespace agentauth {
namespace {

using testing::ChildProcess;
using ::testing::HasSubstr;
using ::testing::Not;

absl::StatusOr<std::pair<std::unique_ptr<ChildProcess>, nlohmann::json>> StartDaemon(
    const std::vector<std::string>& argv) {
  return testing::StartListeningDaemon(argv);
}

class DaemonSecurityTest : public ::testing::Test {
 protected:
  DaemonSecurityTest() : dir_(temp_.path()) {}

  std::string Write(const std::string& name, const std::string& content) {
    return temp_.Write(name, content);
  }

  testing::TempDir temp_;
  std::string dir_;
};

TEST_F(DaemonSecurityTest, TheDaemonIsNotDumpable) {
  // Run as nobody: for a process that is not dumpable the kernel makes /proc/<pid> root's,
  // which anyone can observe. (Run as root, the owner would be root either way.)
  chmod(dir_.c_str(), 0755);
  const std::string secret = Write("secret", testing::kBasicClientSecret);
  const std::string config =
      Write("config.json",
            absl::StrCat(R"({"listen": "127.0.0.1:0", "metrics_listen": "", "prewarm": false,
        "clients": [{"name": "reports", "client_id": "demo-agent", "authority": ")",
                         testing::DevIdp::Shared().issuer(), R"(", "client_secret_file": ")",
                         secret, R"("}]})"));
  // The secret belongs to the daemon's user, private as agentauthd demands of secret files.
  ASSERT_EQ(chown(secret.c_str(), 65534, 65534), 0);
  chmod(secret.c_str(), 0600);
  chmod(config.c_str(), 0644);

  auto started = StartDaemon({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                              AGENTAUTHD_PATH, "--config", config, "--log-format", "json"});
  ASSERT_TRUE(started.ok()) << started.status();
  const pid_t pid = started->first->pid();
  std::ifstream status_file(absl::StrCat("/proc/", pid, "/status"));
  std::string status((std::istreambuf_iterator<char>(status_file)), {});
  struct stat owner = {};
  ASSERT_EQ(stat(absl::StrCat("/proc/", pid, "/status").c_str(), &owner), 0);

  EXPECT_THAT(status, HasSubstr("Uid:\t65534"));
  EXPECT_EQ(owner.st_uid, 0u) << "/proc/" << pid << " belongs to the daemon's user: dumpable";
}

TEST_F(DaemonSecurityTest, AnOpenClientBeyondLoopbackNeedsTheInsecureFlag) {
  const std::string secret = Write("secret", testing::kBasicClientSecret);
  const std::string config = Write(
      "config.json", absl::StrCat(R"({"listen": "0.0.0.0:0", "metrics_listen": "", "prewarm": false,
        "clients": [{"name": "reports", "client_id": "demo-agent", "client_secret_file": ")",
                                  secret, R"("}]})"));

  absl::StatusOr<std::unique_ptr<ChildProcess>> daemon =
      ChildProcess::Start({AGENTAUTHD_PATH, "--config", config});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  absl::StatusOr<std::string> refusal = (*daemon)->WaitForLine(
      ChildProcess::Stream::kStderr,
      [](const std::string& line) { return absl::StrContains(line, "start_failed"); },
      absl::Seconds(20));
  absl::StatusOr<int> exit_code = (*daemon)->Stop(0, absl::Seconds(20));

  ASSERT_TRUE(refusal.ok()) << refusal.status();
  EXPECT_THAT(*refusal, HasSubstr("listener 0.0.0.0:0 is reachable beyond this machine, and "
                                  "client(s) reports have no allowed_callers"));
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 3);
}

// ---------------------------------------------------------------------------------------------

const testing::TestSigningKey& SigningKey() {
  static const auto* key =
      new testing::TestSigningKey(testing::TestSigningKey::Type::kEcP256, "k1");
  return *key;
}

TEST_F(DaemonSecurityTest, NoSecretOrTokenLeavesThroughLogsMetricsStatusOrErrors) {
  constexpr char kCanarySecret[] = "leak-canary-secret-5b1f0e9d";
  const std::string issuer = "https://kubernetes.default.svc.cluster.local";
  const std::string good_secret = Write("good", testing::kBasicClientSecret);
  const std::string bad_secret = Write("bad", kCanarySecret);
  const std::string jwks = Write("jwks.json", testing::JwksOf({&SigningKey()}));
  const std::string socket = dir_ + "/agentauth.sock";
  const std::string config_text = absl::StrCat(
      R"({"listeners": [{"address": "127.0.0.1:0"}, {"address": "unix:)", socket, R"("}],
        "metrics_listen": "127.0.0.1:0", "prewarm": true,
        "caller_auth": {"kubernetes": {"issuer": ")",
      issuer, R"(", "audience": "agentauth",
                                       "jwks_file": ")",
      jwks, R"("}},
        "defaults": {"authority": ")",
      testing::DevIdp::Shared().issuer(), R"("},
        "clients": [
          {"name": "reports", "client_id": "demo-agent", "client_secret_file": ")",
      good_secret,
      R"(", "scopes": ["itwin-platform"], "allowed_callers": ["serviceaccount:reports/*"]},
          {"name": "broken", "client_id": "demo-agent", "client_secret_file": ")",
      bad_secret, R"(", "allowed_callers": ["serviceaccount:reports/*", "uid:*"]}]})");
  const std::string config = Write("config.json", config_text);
  auto started = StartDaemon(
      {AGENTAUTHD_PATH, "--config", config, "--log-format", "json", "--log-level", "debug"});
  ASSERT_TRUE(started.ok()) << started.status();
  auto& [daemon, listening] = *started;
  const std::string target = listening["address"].get<std::string>();

  const absl::Time now = absl::Now();
  const std::string good_token =
      SigningKey().Sign(testing::ServiceAccountClaims(issuer, "agentauth", "reports", "a", now));
  const std::string other_account =
      SigningKey().Sign(testing::ServiceAccountClaims(issuer, "agentauth", "billing", "b", now));
  nlohmann::json expired_claims =
      testing::ServiceAccountClaims(issuer, "agentauth", "reports", "a", now - absl::Hours(3));
  const std::string expired = SigningKey().Sign(expired_claims);
  const std::string forged = good_token.substr(0, good_token.rfind('.') + 1) + "AAAA";
  std::vector<std::string> outputs;  // Every answer and message a caller saw.
  std::vector<std::string> served;   // Every access token handed out.
  const auto call_as = [&](const std::string& token, const std::string& client, bool force) {
    const std::string file = Write("caller-token", token);
    absl::StatusOr<std::unique_ptr<Client>> caller =
        Client::Connect({.target = target, .token_file = file});
    ASSERT_TRUE(caller.ok());
    absl::StatusOr<v1::GetAccessTokenResponse> answer =
        (*caller)->GetAccessToken({.client = client, .force_refresh = force});
    if (answer.ok()) {
      served.push_back(answer->access_token());
      // The answer carries its own token, of course; nothing else of it may.
      answer->clear_access_token();
      answer->clear_authorization();
      outputs.push_back(answer->DebugString());
    } else {
      outputs.push_back(answer.status().ToString());
    }
    absl::StatusOr<v1::GetStatusResponse> status = (*caller)->GetStatus("", absl::Seconds(10));
    outputs.push_back(status.ok() ? status->DebugString() : status.status().ToString());
  };

  call_as(good_token, "reports", false);     // Granted.
  call_as(good_token, "reports", true);      // Forced refresh, granted.
  call_as(good_token, "broken", false);      // The provider rejects the secret.
  call_as(other_account, "reports", false);  // Denied.
  call_as(expired, "reports", false);        // Invalid token.
  call_as(forged, "reports", false);         // Bad signature.
  Client unix_caller("unix:" + socket);      // Unix peer: status and an error.
  absl::StatusOr<v1::GetStatusResponse> unix_status = unix_caller.GetStatus("", absl::Seconds(10));
  outputs.push_back(unix_status.ok() ? unix_status->DebugString()
                                     : unix_status.status().ToString());
  outputs.push_back(unix_caller.GetAccessToken({.client = "broken"}).status().ToString());
  CurlHttpClient http;
  HttpRequest scrape;
  scrape.url = listening["metrics"].get<std::string>();
  absl::StatusOr<HttpResponse> metrics = http.Send(scrape);
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  outputs.push_back(metrics->body);
  kill(daemon->pid(), SIGHUP);
  ASSERT_TRUE(
      daemon
          ->WaitForLine(
              ChildProcess::Stream::kStderr,
              [](const std::string& line) { return absl::StrContains(line, "\"reloaded\""); },
              absl::Seconds(20))
          .ok());
  absl::StatusOr<int> exit_code = daemon->Stop(SIGTERM, absl::Seconds(15));
  outputs.push_back(daemon->Output(ChildProcess::Stream::kStderr));
  outputs.push_back(daemon->Output(ChildProcess::Stream::kStdout));

  ASSERT_EQ(served.size(), 2u);
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  std::vector<std::pair<std::string, std::string>> secrets = {
      {"client secret", testing::kBasicClientSecret},
      {"canary client secret", kCanarySecret},
      {"caller token", good_token},
      {"caller token signature", good_token.substr(good_token.rfind('.') + 1)},
      {"other caller token signature", other_account.substr(other_account.rfind('.') + 1)},
      {"expired caller token signature", expired.substr(expired.rfind('.') + 1)},
      {"forged caller token", forged}};
  for (const std::string& token : served) {
    secrets.emplace_back("served token", token);
    secrets.emplace_back("served token signature", token.substr(token.rfind('.') + 1));
  }
  for (const std::string& output : outputs) {
    for (const auto& [what, value] : secrets) {
      EXPECT_THAT(output, Not(HasSubstr(value))) << what << " leaked";
    }
  }
  const std::string log = daemon->Output(ChildProcess::Stream::kStderr);
  EXPECT_THAT(log, HasSubstr("\"event\":\"token_granted\""));
  EXPECT_THAT(log, HasSubstr("\"event\":\"caller_refused\""));
  EXPECT_THAT(metrics->body, HasSubstr("agentauth_caller_decisions_total"));
}

}  // namespace
}  // namespace agentauth
