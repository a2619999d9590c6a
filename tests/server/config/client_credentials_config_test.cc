// The credentials beside the client secret: private keys and client certificates from files,
// their permission checks, how they tie to auth_method, and the fingerprint that keys the cache.
#include "server/config/client_credentials_config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_printing.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_keys.h"

namespace agentauth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Files, their modes and environment variables exist only in these maps.
class ClientCredentialsConfigTest : public ::testing::Test {
 protected:
  ClientCredentialsConfigTest() {
    rsa_key_ = testing::NewRsaKeyPem();
    ec_key_ = testing::NewEcKeyPem();
    AddFile("/secrets/reports", "s3cr3t\n", 0600);
    AddFile("/keys/rsa.pem", rsa_key_, 0600);
    AddFile("/keys/ec.pem", ec_key_, 0400);
    sources_.read_file = [this](const std::string& path) -> absl::StatusOr<std::string> {
      const auto found = files_.find(path);
      if (found == files_.end()) {
        return absl::NotFoundError("cannot read \"" + path + "\": No such file or directory");
      }
      return found->second;
    };
    sources_.get_env = [](const std::string&) { return std::nullopt; };
    sources_.file_access = [this](const std::string& path) -> absl::StatusOr<FileAccess> {
      const auto found = access_.find(path);
      if (found == access_.end()) return absl::NotFoundError("no such file");
      return found->second;
    };
  }

  void AddFile(const std::string& path, const std::string& content, unsigned int mode,
               bool group_is_own = false) {
    files_[path] = content;
    access_[path] = FileAccess{mode, group_is_own};
  }

  absl::StatusOr<Config> Parse(const std::string& client_fields,
                               const std::string& defaults = "{}") {
    return ParseConfig(
        absl::StrCat(R"({"defaults": )", defaults,
                     R"(, "clients": [{"name": "reports", "client_id": "reports-agent")",
                     client_fields, "}]}"),
        sources_);
  }

  void ExpectError(const absl::StatusOr<Config>& config, const std::string& message) {
    ASSERT_FALSE(config.ok());
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(config.status().message(), message);
  }

  std::string rsa_key_;
  std::string ec_key_;
  std::map<std::string, std::string> files_;
  std::map<std::string, FileAccess> access_;
  SecretSources sources_;
};

TEST_F(ClientCredentialsConfigTest, KeyAloneIsACredentialAndItsTypeSetsTheAlgorithm) {
  absl::StatusOr<Config> rsa = Parse(R"(, "private_key_file": "/keys/rsa.pem")");
  absl::StatusOr<Config> ec = Parse(R"(, "private_key_file": "/keys/ec.pem", "key_id": "k-1")");

  ASSERT_TRUE(rsa.ok()) << rsa.status();
  ASSERT_TRUE(ec.ok()) << ec.status();
  EXPECT_TRUE(rsa->clients[0].client_secret.empty());
  EXPECT_EQ(rsa->clients[0].private_key_pem, rsa_key_);
  EXPECT_EQ(SigningAlgorithmName(rsa->clients[0].signing_algorithm), "RS256");
  EXPECT_EQ(SigningAlgorithmName(ec->clients[0].signing_algorithm), "ES256");
  EXPECT_EQ(ec->clients[0].key_id, "k-1");
}

TEST_F(ClientCredentialsConfigTest, KeySettingsMayComeFromDefaults) {
  absl::StatusOr<Config> config =
      Parse("", R"({"private_key_file": "/keys/rsa.pem", "signing_algorithm": "PS256"})");

  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(SigningAlgorithmName(config->clients[0].signing_algorithm), "PS256");
}

TEST_F(ClientCredentialsConfigTest, GroupReadableKeyOfOurOwnGroupIsAllowedLikeKubernetesFsGroup) {
  AddFile("/var/run/secrets/key.pem", ec_key_, 0440, /*group_is_own=*/true);

  absl::StatusOr<Config> config = Parse(R"(, "private_key_file": "/var/run/secrets/key.pem")");

  EXPECT_TRUE(config.ok()) << config.status();
}

struct RejectionCase {
  std::string name;
  std::string fields;
  std::string message;
};

class ClientCredentialsRejectionTest : public ClientCredentialsConfigTest,
                                       public ::testing::WithParamInterface<RejectionCase> {
 protected:
  ClientCredentialsRejectionTest() {
    AddFile("/keys/world.pem", rsa_key_, 0644);
    AddFile("/keys/group.pem", rsa_key_, 0640);
    AddFile("/keys/group-write.pem", rsa_key_, 0460, /*group_is_own=*/true);
    AddFile("/keys/garbage.pem", "-----BEGIN PRIVATE KEY-----\nnot base64\n", 0600);
    AddFile("/keys/small.pem", testing::NewRsaKeyPem(1024), 0600);
    AddFile("/keys/p384.pem", testing::NewEcKeyPem("P-384"), 0600);
    AddFile("/secrets/world", "s3cr3t\n", 0604);
    AddFile("/certs/agent.pem", "-----BEGIN CERTIFICATE-----\nnope\n", 0644);
  }
};

TEST_P(ClientCredentialsRejectionTest, NamesThePathAndTheProblem) {
  ExpectError(Parse(GetParam().fields), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Rules, ClientCredentialsRejectionTest,
    ::testing::Values(
        RejectionCase{"NoCredentialAtAll", "",
                      "clients[0]: no credentials: set client_secret_file or client_secret_env, "
                      "or private_key_file (private_key_jwt), or tls_client_cert_file and "
                      "tls_client_key_file (tls_client_auth)"},
        RejectionCase{"MissingKeyFile", R"(, "private_key_file": "/keys/none.pem")",
                      "clients[0].private_key_file: cannot read \"/keys/none.pem\": No such file "
                      "or directory"},
        RejectionCase{"WorldReadableKey", R"(, "private_key_file": "/keys/world.pem")",
                      "clients[0].private_key_file: \"/keys/world.pem\" has mode 0644: users "
                      "other than this process's own can reach the private key; chmod 600 it (or "
                      "440 when its group is one this process belongs to, as with a Kubernetes "
                      "fsGroup)"},
        RejectionCase{"KeyReadableByAForeignGroup", R"(, "private_key_file": "/keys/group.pem")",
                      "clients[0].private_key_file: \"/keys/group.pem\" has mode 0640: users "
                      "other than this process's own can reach the private key; chmod 600 it (or "
                      "440 when its group is one this process belongs to, as with a Kubernetes "
                      "fsGroup)"},
        RejectionCase{"KeyWritableByItsGroup", R"(, "private_key_file": "/keys/group-write.pem")",
                      "clients[0].private_key_file: \"/keys/group-write.pem\" has mode 0460: users "
                      "other than this process's own can reach the private key; chmod 600 it (or "
                      "440 when its group is one this process belongs to, as with a Kubernetes "
                      "fsGroup)"},
        RejectionCase{"WorldReadableSecret", R"(, "client_secret_file": "/secrets/world")",
                      "clients[0].client_secret_file: \"/secrets/world\" has mode 0604: every "
                      "user of the machine can read or change the client secret; chmod 600 it "
                      "(or 640 for a group this process belongs to)"},
        RejectionCase{"NotAKey", R"(, "private_key_file": "/keys/garbage.pem")",
                      "clients[0].private_key_file: \"/keys/garbage.pem\": not an unencrypted PEM "
                      "private key (expected \"-----BEGIN PRIVATE KEY-----\", RSA or EC P-256)"},
        RejectionCase{"SmallRsaKey", R"(, "private_key_file": "/keys/small.pem")",
                      "clients[0].private_key_file: \"/keys/small.pem\": the RSA key has 1024 "
                      "bits; providers require at least 2048 for RS256/PS256"},
        RejectionCase{"OtherCurve", R"(, "private_key_file": "/keys/p384.pem")",
                      "clients[0].private_key_file: \"/keys/p384.pem\": the EC key is on curve "
                      "\"secp384r1\"; ES256 needs P-256 (prime256v1)"},
        RejectionCase{"AlgorithmDoesNotFitKey",
                      R"(, "private_key_file": "/keys/ec.pem", "signing_algorithm": "PS256")",
                      "clients[0].signing_algorithm: PS256 needs an RSA key, but the key is EC "
                      "P-256"},
        RejectionCase{"UnknownAlgorithm",
                      R"(, "private_key_file": "/keys/rsa.pem", "signing_algorithm": "HS256")",
                      "clients[0].signing_algorithm: \"HS256\" is not one of RS256, PS256 or "
                      "ES256"},
        RejectionCase{"KeyIdWithoutKey",
                      R"(, "client_secret_file": "/secrets/reports", "key_id": "k")",
                      "clients[0].key_id: only used with private_key_file, which is not set"},
        RejectionCase{"CertificateWithoutKey", R"(, "tls_client_cert_file": "/certs/agent.pem")",
                      "clients[0].tls_client_cert_file: set both tls_client_cert_file and "
                      "tls_client_key_file"},
        RejectionCase{"NotACertificate",
                      R"(, "tls_client_cert_file": "/certs/agent.pem",
                         "tls_client_key_file": "/keys/ec.pem")",
                      "clients[0].tls_client_cert_file: \"/certs/agent.pem\" with key "
                      "\"/keys/ec.pem\": not a PEM certificate (expected \"-----BEGIN "
                      "CERTIFICATE-----\")"},
        RejectionCase{"MethodWithoutItsKey",
                      R"(, "client_secret_file": "/secrets/reports",
                         "auth_method": "private_key_jwt")",
                      "clients[0].auth_method: private_key_jwt needs a private key "
                      "(private_key_file), which client \"reports\" does not have"},
        RejectionCase{
            "SecretMethodWithoutSecret",
            R"(, "private_key_file": "/keys/rsa.pem", "auth_method": "client_secret_jwt")",
            "clients[0].auth_method: client_secret_jwt needs a client secret "
            "(client_secret_file or client_secret_env), which client \"reports\" does "
            "not have"},
        RejectionCase{"TlsMethodWithoutCertificate",
                      R"(, "client_secret_file": "/secrets/reports",
                         "auth_method": "tls_client_auth")",
                      "clients[0].auth_method: tls_client_auth needs a client certificate "
                      "(tls_client_cert_file and _key_file), which client \"reports\" does not "
                      "have"}),
    [](const ::testing::TestParamInfo<RejectionCase>& param_info) {
      return param_info.param.name;
    });

TEST_F(ClientCredentialsConfigTest, ErrorsNeverQuoteTheKey) {
  AddFile("/keys/world.pem", rsa_key_, 0666);

  absl::StatusOr<Config> config = Parse(R"(, "private_key_file": "/keys/world.pem")");

  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()), Not(HasSubstr("PRIVATE KEY-----\n")));
}

TEST_F(ClientCredentialsConfigTest, FingerprintChangesWithTheKeyTheAlgorithmAndTheKeyId) {
  AddFile("/keys/rotated.pem", testing::NewRsaKeyPem(), 0600);
  const auto fingerprint = [this](const std::string& fields) {
    absl::StatusOr<Config> config = Parse(fields);
    EXPECT_TRUE(config.ok()) << config.status();
    return config.ok() ? config->clients[0].credential_fingerprint : "";
  };

  const std::string original = fingerprint(R"(, "private_key_file": "/keys/rsa.pem")");

  EXPECT_EQ(fingerprint(R"(, "private_key_file": "/keys/rsa.pem")"), original);
  EXPECT_NE(fingerprint(R"(, "private_key_file": "/keys/rotated.pem")"), original);
  EXPECT_NE(fingerprint(R"(, "private_key_file": "/keys/rsa.pem", "signing_algorithm": "PS256")"),
            original);
  EXPECT_NE(fingerprint(R"(, "private_key_file": "/keys/rsa.pem", "key_id": "k2")"), original);
}

TEST_F(ClientCredentialsConfigTest, FingerprintChangesWithTheCertificateAndItsKey) {
  ClientConfig client;
  client.client_id = "reports-agent";
  client.tls_client_cert_pem = "certificate one";
  client.tls_client_key_pem = SecretString("key one");
  const std::string original = CredentialFingerprint(client);

  ClientConfig new_certificate = client;
  new_certificate.tls_client_cert_pem = "certificate two";
  ClientConfig new_key = client;
  new_key.tls_client_key_pem = SecretString("key two");

  EXPECT_NE(CredentialFingerprint(new_certificate), original);
  EXPECT_NE(CredentialFingerprint(new_key), original);
  EXPECT_FALSE(SameCredentials(new_certificate, client));
}

TEST_F(ClientCredentialsConfigTest, RereadPicksUpARotatedKeyWithANewFingerprint) {
  absl::StatusOr<Config> config = Parse(R"(, "private_key_file": "/keys/rsa.pem")");
  ASSERT_TRUE(config.ok()) << config.status();
  ClientConfig client = config->clients[0];
  const std::string rotated = testing::NewRsaKeyPem();
  files_["/keys/rsa.pem"] = rotated;

  ASSERT_TRUE(RereadCredentialFiles(sources_, client).ok());

  EXPECT_EQ(client.private_key_pem, rotated);
  EXPECT_NE(client.credential_fingerprint, config->clients[0].credential_fingerprint);
  EXPECT_FALSE(SameCredentials(client, config->clients[0]));
}

TEST_F(ClientCredentialsConfigTest, RereadKeepsTheClientWhenTheNewKeyIsLoose) {
  absl::StatusOr<Config> config = Parse(R"(, "private_key_file": "/keys/rsa.pem")");
  ASSERT_TRUE(config.ok()) << config.status();
  ClientConfig client = config->clients[0];
  files_["/keys/rsa.pem"] = testing::NewRsaKeyPem();
  access_["/keys/rsa.pem"].mode = 0644;

  absl::Status reread = RereadCredentialFiles(sources_, client);

  EXPECT_EQ(reread.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(reread.message()), HasSubstr("has mode 0644"));
  EXPECT_TRUE(SameCredentials(client, config->clients[0]));
}

// The real file system: a Kubernetes Secret volume, where the file is a symlink into ..data and
// the mode is that of the file it ends at.
TEST(RealCredentialFilesTest, SymlinkedKeyIsJudgedByTheFileItEndsAt) {
  testing::TempDir dir;
  std::filesystem::create_directory(dir.path() + "/..2026_12_04");
  const std::string target = dir.path() + "/..2026_12_04/key.pem";
  std::ofstream(target) << testing::NewEcKeyPem();
  std::filesystem::create_directory_symlink("..2026_12_04", dir.path() + "/..data");
  std::filesystem::create_symlink("..data/key.pem", dir.path() + "/key.pem");
  const SecretSources sources = SecretSources::Real();

  chmod(target.c_str(), 0644);
  absl::StatusOr<std::string> loose = ReadPrivateKeyFile(sources, dir.path() + "/key.pem");
  chmod(target.c_str(), 0400);
  absl::StatusOr<std::string> tight = ReadPrivateKeyFile(sources, dir.path() + "/key.pem");

  ASSERT_FALSE(loose.ok());
  EXPECT_THAT(std::string(loose.status().message()), HasSubstr("has mode 0644"));
  EXPECT_TRUE(tight.ok()) << tight.status();
}

TEST(RealCredentialFilesTest, GroupReadableKeyIsAllowedOnlyForAGroupOfThisProcess) {
  testing::TempDir dir;
  const std::string key = dir.Write("key.pem", testing::NewEcKeyPem());
  chmod(key.c_str(), 0440);
  const SecretSources sources = SecretSources::Real();

  // The file was created with this process's effective group.
  absl::StatusOr<std::string> own_group = ReadPrivateKeyFile(sources, key);

  EXPECT_TRUE(own_group.ok()) << own_group.status();
}

}  // namespace
}  // namespace agentauth
