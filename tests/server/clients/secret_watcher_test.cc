#include "server/clients/secret_watcher.h"

#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/captured_log.h"
#include "tests/testing/fake_scheduler.h"
#include "tests/testing/status_printing.h"
#include "tests/testing/test_keys.h"

namespace agentauth {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

class SecretWatcherTest : public ::testing::Test {
 protected:
  SecretWatcherTest() : logger_(clock_, LogLevel::kDebug, LogFormat::kText, log_.Sink()) {
    files_["/secrets/reports"] = "old-secret\n";
    sources_.read_file = [this](const std::string& path) -> absl::StatusOr<std::string> {
      const auto found = files_.find(path);
      if (found == files_.end()) return absl::NotFoundError("cannot read \"" + path + "\"");
      return found->second;
    };
    sources_.get_env = [](const std::string&) { return std::nullopt; };

    ClientConfig reports;
    reports.name = "reports";
    reports.client_id = "reports-agent";
    reports.client_secret = SecretString("old-secret");
    reports.secret_file = "/secrets/reports";
    reports.secret_source = "file /secrets/reports";
    reports.credential_fingerprint = CredentialFingerprint(reports);
    ClientConfig from_env = reports;
    from_env.name = "from-env";
    from_env.secret_file = "";
    registry_ = std::make_unique<ClientRegistry>(std::vector<ClientConfig>{reports, from_env});
    watcher_ = std::make_unique<SecretWatcher>(
        *registry_, sources_, scheduler_, clock_, logger_, absl::Seconds(10),
        [this](const ClientConfig& old_client, const ClientConfig& new_client) {
          rotations_.emplace_back(old_client.credential_fingerprint,
                                  new_client.credential_fingerprint);
        });
  }

  testing::FakeClock clock_;
  testing::FakeScheduler scheduler_{clock_};
  testing::CapturedLog log_;
  Logger logger_;
  std::map<std::string, std::string> files_;
  SecretSources sources_;
  std::unique_ptr<ClientRegistry> registry_;
  std::unique_ptr<SecretWatcher> watcher_;
  std::vector<std::pair<std::string, std::string>> rotations_;
};

TEST_F(SecretWatcherTest, UnchangedSecretIsNotARotation) {
  EXPECT_EQ(watcher_->CheckNow(), 0);
  EXPECT_TRUE(rotations_.empty());
}

TEST_F(SecretWatcherTest, ChangedFileReplacesTheClientWithANewFingerprint) {
  const std::string old_fingerprint = registry_->Find("reports")->credential_fingerprint;
  files_["/secrets/reports"] = "new-secret\n";

  EXPECT_EQ(watcher_->CheckNow(), 1);

  const auto client = registry_->Find("reports");
  EXPECT_EQ(client->client_secret, "new-secret");
  EXPECT_NE(client->credential_fingerprint, old_fingerprint);
  ASSERT_EQ(rotations_.size(), 1u);
  EXPECT_EQ(rotations_[0].first, old_fingerprint);
  EXPECT_EQ(rotations_[0].second, client->credential_fingerprint);
  EXPECT_THAT(log_.Lines(), Contains(HasSubstr("INFO secrets secret_rotated client=reports")));
  for (const std::string& line : log_.Lines()) {
    EXPECT_THAT(line, Not(HasSubstr("new-secret")));
    EXPECT_THAT(line, Not(HasSubstr("old-secret")));
  }
}

TEST_F(SecretWatcherTest, ChecksRunOnTheSchedule) {
  watcher_->Start();
  files_["/secrets/reports"] = "new-secret";

  scheduler_.Advance(absl::Seconds(9));
  EXPECT_TRUE(rotations_.empty());
  scheduler_.Advance(absl::Seconds(1));
  EXPECT_EQ(rotations_.size(), 1u);
  files_["/secrets/reports"] = "newer-secret";
  scheduler_.Advance(absl::Seconds(10));
  EXPECT_EQ(rotations_.size(), 2u);
}

TEST_F(SecretWatcherTest, UnreadableOrEmptyFileKeepsTheCurrentSecret) {
  files_.erase("/secrets/reports");
  EXPECT_EQ(watcher_->CheckNow(), 0);
  files_["/secrets/reports"] = "\n";
  EXPECT_EQ(watcher_->CheckNow(), 0);

  EXPECT_EQ(registry_->Find("reports")->client_secret, "old-secret");
  EXPECT_THAT(log_.Lines(), Contains(HasSubstr("WARNING secrets reread_failed client=reports")));
}

// A private_key_jwt client and a tls_client_auth client, whose key and certificate files are
// re-read like secret files.
class KeyWatcherTest : public SecretWatcherTest {
 protected:
  KeyWatcherTest() {
    files_["/keys/agent.pem"] = testing::NewEcKeyPem();
    ClientConfig keyed;
    keyed.name = "keyed";
    keyed.client_id = "keyed-agent";
    keyed.private_key_file = "/keys/agent.pem";
    keyed.private_key_pem = SecretString(files_["/keys/agent.pem"]);
    keyed.signing_algorithm = SigningAlgorithm::kEs256;
    keyed.credential_fingerprint = CredentialFingerprint(keyed);
    registry_->ReplaceAll({keyed});
  }
};

TEST_F(KeyWatcherTest, RotatedKeyReplacesTheClientWithANewFingerprint) {
  const std::string old_fingerprint = registry_->Find("keyed")->credential_fingerprint;
  const std::string rotated = testing::NewEcKeyPem();
  files_["/keys/agent.pem"] = rotated;

  EXPECT_EQ(watcher_->CheckNow(), 1);

  const auto client = registry_->Find("keyed");
  EXPECT_EQ(client->private_key_pem, rotated);
  EXPECT_NE(client->credential_fingerprint, old_fingerprint);
  ASSERT_EQ(rotations_.size(), 1u);
  for (const std::string& line : log_.Lines()) {
    EXPECT_THAT(line, Not(HasSubstr("PRIVATE KEY")));
  }
}

TEST_F(KeyWatcherTest, KeyOfAnotherTypeKeepsTheCurrentKey) {
  const std::string current = files_["/keys/agent.pem"];
  files_["/keys/agent.pem"] = testing::NewRsaKeyPem();

  EXPECT_EQ(watcher_->CheckNow(), 0);

  EXPECT_EQ(registry_->Find("keyed")->private_key_pem, current);
  EXPECT_THAT(log_.Lines(), Contains(HasSubstr("ES256 needs an EC P-256 key, but the key is RSA")));
}

}  // namespace
}  // namespace agentauth
