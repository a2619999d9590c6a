// The caller side of the config: listeners, caller_auth, limits and allowed_callers.
#include <map>
#include <string>

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/config/config.h"
#include "tests/testing/status_printing.h"

namespace agentauth {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class CallerConfigTest : public ::testing::Test {
 protected:
  CallerConfigTest() {
    files_["/secrets/reports"] = "s3cr3t\n";
    files_["/tls/tls.crt"] = "-----BEGIN CERTIFICATE-----";
    files_["/tls/tls.key"] = "(a key; only the listener start-up parses it)";
    files_["/tls/ca.crt"] = "-----BEGIN CERTIFICATE-----";
    files_["/etc/jwks.json"] = R"({"keys": []})";
    sources_.read_file = [this](const std::string& path) -> absl::StatusOr<std::string> {
      const auto found = files_.find(path);
      if (found == files_.end()) {
        return absl::NotFoundError("cannot read \"" + path + "\": No such file or directory");
      }
      return found->second;
    };
    sources_.get_env = [](const std::string&) -> std::optional<std::string> {
      return std::nullopt;
    };
  }

  absl::StatusOr<Config> Parse(const std::string& top_level,
                               const std::string& client_fields = "") {
    const std::string text = absl::StrReplaceAll(
        R"({ TOP "clients": [{"name": "reports", "client_id": "reports-agent",
             "client_secret_file": "/secrets/reports", "scopes": ["api.read", "api.write"]
             FIELDS}]})",
        {{"TOP", top_level}, {"FIELDS", client_fields}});
    return ParseConfig(text, sources_);
  }

  void ExpectError(const absl::StatusOr<Config>& config, const std::string& message) {
    ASSERT_FALSE(config.ok());
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(config.status().message(), message);
  }

  std::map<std::string, std::string> files_;
  SecretSources sources_;
};

TEST_F(CallerConfigTest, DefaultsAreOneLoopbackListenerOpenClientsAndTheDocumentedLimits) {
  absl::StatusOr<Config> config = Parse("");

  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->listeners.size(), 1u);
  EXPECT_EQ(config->listeners[0].address, "127.0.0.1:50051");
  EXPECT_FALSE(config->listeners[0].tls.has_value());
  EXPECT_FALSE(config->caller_auth.kubernetes.has_value());
  EXPECT_EQ(config->limits.max_request_bytes, 32768u);
  EXPECT_EQ(config->limits.force_refresh_per_caller, 6);
  EXPECT_EQ(config->limits.force_refresh_per, absl::Minutes(1));
  EXPECT_FALSE(config->clients[0].allowed_callers.has_value());
}

TEST_F(CallerConfigTest, ListenShorthandIsOnePlainListener) {
  absl::StatusOr<Config> config = Parse(R"("listen": "unix:/run/a.sock",)");

  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->listeners.size(), 1u);
  EXPECT_TRUE(config->listeners[0].IsUnix());
  EXPECT_EQ(config->listeners[0].UnixPath(), "/run/a.sock");
}

TEST_F(CallerConfigTest, ParsesEveryListenerKind) {
  absl::StatusOr<Config> config = Parse(R"("listeners": [
      {"address": "127.0.0.1:0"},
      {"address": "0.0.0.0:50443", "tls": {"cert_file": "/tls/tls.crt", "key_file": "/tls/tls.key",
                                            "client_ca_file": "/tls/ca.crt"}},
      {"address": "unix:/run/agentauth/agentauth.sock", "socket_mode": "0660"}],)",
                                        R"(, "allowed_callers": ["uid:0"])");

  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->listeners.size(), 3u);
  EXPECT_EQ(config->listen, "127.0.0.1:0");
  EXPECT_TRUE(config->listeners[0].IsLocalOnly());
  ASSERT_TRUE(config->listeners[1].tls.has_value());
  EXPECT_EQ(config->listeners[1].tls->client_ca_file, "/tls/ca.crt");
  EXPECT_FALSE(config->listeners[1].IsLocalOnly());
  EXPECT_EQ(config->listeners[2].socket_mode, 0660u);
}

TEST_F(CallerConfigTest, ListenerErrorsNameThePath) {
  ExpectError(Parse(R"("listen": "127.0.0.1:1", "listeners": [{"address": "127.0.0.1:2"}],)"),
              "listeners: set either listen or listeners, not both");
  ExpectError(Parse(R"("listeners": [],)"),
              "listeners: expected an array with at least one listener");
  ExpectError(
      Parse(R"("listeners": [{"address": "127.0.0.1:1", "tls": {"cert_file": "/tls/tls.crt"}}],)"),
      "listeners[0].tls.key_file: required for a TLS listener");
  ExpectError(Parse(R"("listeners": [{"address": "127.0.0.1:1", "tls": {"cert_file": "/tls/tls.crt",
                       "key_file": "/missing.key"}}],)"),
              "listeners[0].tls.key_file: cannot read \"/missing.key\": No such file or directory");
  ExpectError(Parse(R"("listeners": [{"address": "unix:/a.sock", "socket_mode": "0666"}],)"),
              "listeners[0].socket_mode: other users must not reach the socket (the last digit "
              "must be 0); grant access through the socket's group instead");
  ExpectError(Parse(R"("listeners": [{"address": "unix:/a.sock", "socket_mode": "rw"}],)"),
              "listeners[0].socket_mode: \"rw\" is not an octal file mode such as \"0660\"");
  ExpectError(Parse(R"("listeners": [{"address": "127.0.0.1:1", "socket_mode": "0600"}],)"),
              "listeners[0].socket_mode: only a unix: listener has a file mode");
  ExpectError(Parse(R"("listeners": [{"address": "unix:relative.sock"}],)"),
              "listeners[0].address: \"unix:relative.sock\" is not a Unix socket address such as "
              "\"unix:/run/agentauth/agentauth.sock\" (an absolute path of at most 107 bytes)");
  ExpectError(Parse(R"("listeners": [{"address": "127.0.0.1:1"}, {"address": "127.0.0.1:1"}],)"),
              "listeners[1].address: \"127.0.0.1:1\" is listed twice");
  ExpectError(Parse(R"("listeners": [{"address": "127.0.0.1:1", "port": 5}],)"),
              "listeners[0].port: unknown key; expected one of address, tls, socket_mode");
}

TEST_F(CallerConfigTest, ParsesAllowedCallersStringsAndObjects) {
  absl::StatusOr<Config> config = Parse(
      "", R"(, "allowed_callers": ["spiffe://example.org/ns/*/sa/reports", "dns:*.example.org",
             {"caller": "serviceaccount:ci/*", "scopes": ["api.read"],
              "audiences": ["https://api.example.org"]}, "uid:1000", "gid:*", "cn:reports"])");

  ASSERT_TRUE(config.ok()) << config.status();
  const std::vector<CallerRule>& rules = *config->clients[0].allowed_callers;
  ASSERT_EQ(rules.size(), 6u);
  EXPECT_EQ(rules[0].pattern, "spiffe://example.org/ns/*/sa/reports");
  EXPECT_EQ(rules[2].pattern, "serviceaccount:ci/*");
  EXPECT_THAT(*rules[2].scopes, ElementsAre("api.read"));
  EXPECT_THAT(*rules[2].audiences, ElementsAre("https://api.example.org"));
  EXPECT_FALSE(rules[0].scopes.has_value());
}

TEST_F(CallerConfigTest, AllowedCallersErrorsNameTheEntry) {
  ExpectError(Parse("", R"(, "allowed_callers": "uid:0")"),
              "clients[0].allowed_callers: expected an array of caller patterns, got a string");
  ExpectError(Parse("", R"(, "allowed_callers": ["*"])"),
              "clients[0].allowed_callers[0]: expected a caller pattern: a URI SAN such as "
              "\"spiffe://example.org/ns/*\", \"dns:<name>\", \"cn:<common name>\", "
              "\"serviceaccount:<namespace>/<name>\", \"uid:<n>\" or \"gid:<n>\" (`*` matches "
              "any run of characters except '/')");
  ExpectError(Parse("", R"(, "allowed_callers": ["uid:root"])"),
              "clients[0].allowed_callers[0]: \"uid:root\": a uid is a number or `*`");
  ExpectError(Parse("", R"(, "allowed_callers": ["serviceaccount:builder"])"),
              "clients[0].allowed_callers[0]: \"serviceaccount:builder\": expected "
              "serviceaccount:<namespace>/<name>, e.g. serviceaccount:ci/*");
  ExpectError(Parse("", R"(, "allowed_callers": [{"caller": "uid:0", "scopes": ["admin"]}])"),
              "clients[0].allowed_callers[0].scopes: scope \"admin\" is not among the client's "
              "scopes (api.read api.write)");
  ExpectError(Parse("", R"(, "allowed_callers": [{"scopes": ["api.read"]}])"),
              "clients[0].allowed_callers[0].caller: required");
}

TEST_F(CallerConfigTest, ParsesKubernetesCallerAuth) {
  absl::StatusOr<Config> config = Parse(R"("caller_auth": {"kubernetes": {
      "issuer": "https://kubernetes.default.svc.cluster.local", "audience": "agentauth",
      "jwks_file": "/etc/jwks.json", "leeway": "10s", "jwks_refresh": "5m"}},)");

  ASSERT_TRUE(config.ok()) << config.status();
  const KubernetesCallerAuth& kubernetes = *config->caller_auth.kubernetes;
  EXPECT_EQ(kubernetes.issuer, "https://kubernetes.default.svc.cluster.local");
  EXPECT_EQ(kubernetes.audience, "agentauth");
  EXPECT_EQ(kubernetes.jwks_file, "/etc/jwks.json");
  EXPECT_EQ(kubernetes.leeway, absl::Seconds(10));
  EXPECT_EQ(kubernetes.jwks_refresh, absl::Minutes(5));
}

TEST_F(CallerConfigTest, KubernetesCallerAuthErrors) {
  ExpectError(Parse(R"("caller_auth": {"kubernetes": {"audience": "agentauth"}},)"),
              "caller_auth.kubernetes.issuer: required");
  ExpectError(Parse(R"("caller_auth": {"kubernetes": {"issuer": "http://k8s.example",
                       "audience": "agentauth"}},)"),
              "caller_auth.kubernetes.issuer: \"http://k8s.example\" uses plain http to a host "
              "other than loopback: verification keys must come over https");
  ExpectError(Parse(R"("caller_auth": {"kubernetes": {"issuer": "https://k", "audience": "a",
                       "jwks_file": "/etc/jwks.json", "jwks_uri": "https://k/jwks"}},)"),
              "caller_auth.kubernetes: set at most one of jwks_file or jwks_uri");
  ExpectError(Parse(R"("caller_auth": {"kubernetes": {"issuer": "https://k", "audience": "a",
                       "ca_file": "/missing.crt"}},)"),
              "caller_auth.kubernetes.ca_file: cannot read \"/missing.crt\": No such file or "
              "directory");
  ExpectError(Parse(R"("caller_auth": {"spiffe": {}},)"),
              "caller_auth.spiffe: unknown key; expected one of kubernetes");
}

TEST_F(CallerConfigTest, ParsesLimitsAndRefusesOutOfRangeValues) {
  absl::StatusOr<Config> config = Parse(R"("limits": {"max_request_bytes": 16384,
                                                   "force_refresh": {"per_caller": 3,
                                                                     "per": "30s"}},)");

  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->limits.max_request_bytes, 16384u);
  EXPECT_EQ(config->limits.force_refresh_per_caller, 3);
  EXPECT_EQ(config->limits.force_refresh_per, absl::Seconds(30));
  ExpectError(Parse(R"("limits": {"max_request_bytes": 10},)"),
              "limits.max_request_bytes: expected a whole number from 1024 to 4194304");
  ExpectError(Parse(R"("limits": {"force_refresh": {"per_caller": 0}},)"),
              "limits.force_refresh.per_caller: expected a whole number from 1 to 10000");
}

}  // namespace
}  // namespace agentauth
