#include "server/callers/caller_policy.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace agentauth {
namespace {

using ::testing::HasSubstr;

CallerIdentity Caller(std::vector<std::string> identities) {
  CallerIdentity caller;
  caller.identities = std::move(identities);
  caller.peer_host = "ipv4:127.0.0.1";
  return caller;
}

ClientConfig ClientWith(std::optional<std::vector<CallerRule>> rules) {
  ClientConfig client;
  client.name = "reports";
  client.scopes = {"api.read", "api.write"};
  client.allowed_callers = std::move(rules);
  return client;
}

TEST(CallerPatternTest, StarMatchesAnyRunWithoutSlash) {
  EXPECT_TRUE(MatchesCallerPattern("spiffe://td/ns/*/sa/*", "spiffe://td/ns/ci/sa/builder"));
  EXPECT_TRUE(MatchesCallerPattern("serviceaccount:ci/*", "serviceaccount:ci/builder"));
  EXPECT_TRUE(MatchesCallerPattern("dns:*.example.org", "dns:api.example.org"));
  EXPECT_TRUE(MatchesCallerPattern("uid:*", "uid:0"));
  EXPECT_TRUE(MatchesCallerPattern("cn:a*b*c", "cn:aXXbYYc"));
  EXPECT_TRUE(MatchesCallerPattern("cn:*", "cn:"));
}

TEST(CallerPatternTest, StarDoesNotCrossSlashAndTheRestIsExact) {
  EXPECT_FALSE(MatchesCallerPattern("spiffe://td/ns/*", "spiffe://td/ns/ci/sa/builder"));
  EXPECT_FALSE(MatchesCallerPattern("serviceaccount:*", "serviceaccount:ci/builder"));
  EXPECT_FALSE(MatchesCallerPattern("dns:*.example.org", "dns:api.example.org.evil"));
  EXPECT_FALSE(MatchesCallerPattern("uid:100", "uid:1000"));
  EXPECT_FALSE(MatchesCallerPattern("cn:Reports", "cn:reports"));
  EXPECT_FALSE(MatchesCallerPattern("uid:0", "gid:0"));
}

TEST(CallerPolicyTest, AClientWithoutAllowedCallersServesEveryone) {
  const ClientConfig client = ClientWith(std::nullopt);

  EXPECT_TRUE(CallerMayUseClient(client, Caller({})));
  EXPECT_TRUE(AuthorizeTokenRequest(client, Caller({}), {"api.read"}, "").ok());
}

TEST(CallerPolicyTest, AnAnonymousCallerOfANamingClientIsUnauthenticated) {
  const ClientConfig client = ClientWith(std::vector<CallerRule>{{.pattern = "uid:0"}});

  const absl::Status status = AuthorizeTokenRequest(client, Caller({}), {"api.read"}, "");

  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(status.message(), HasSubstr("client \"reports\" serves only identified callers"));
}

TEST(CallerPolicyTest, AnUnmatchedCallerIsDeniedByName) {
  const ClientConfig client =
      ClientWith(std::vector<CallerRule>{{.pattern = "serviceaccount:reports/*"}});

  const absl::Status status =
      AuthorizeTokenRequest(client, Caller({"serviceaccount:other/app"}), {"api.read"}, "");

  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(status.message(), "caller serviceaccount:other/app may not use client \"reports\"");
  EXPECT_FALSE(CallerMayUseClient(client, Caller({"serviceaccount:other/app"})));
}

TEST(CallerPolicyTest, AnyOfTheCallersIdentitiesMayMatch) {
  const ClientConfig client = ClientWith(std::vector<CallerRule>{{.pattern = "gid:1000"}});

  EXPECT_TRUE(AuthorizeTokenRequest(client, Caller({"uid:1000", "gid:1000"}), {}, "").ok());
}

TEST(CallerPolicyTest, ScopeLimitsOfAMatchingRuleApply) {
  const ClientConfig client = ClientWith(std::vector<CallerRule>{
      {.pattern = "cn:reader", .scopes = std::vector<std::string>{"api.read"}}});

  const absl::Status allowed =
      AuthorizeTokenRequest(client, Caller({"cn:reader"}), {"api.read"}, "");
  const absl::Status denied =
      AuthorizeTokenRequest(client, Caller({"cn:reader"}), {"api.read", "api.write"}, "");

  EXPECT_TRUE(allowed.ok()) << allowed;
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(denied.message(),
              HasSubstr("may not ask client \"reports\" for scope \"api.write\" (allowed: "
                        "api.read)"));
}

TEST(CallerPolicyTest, AudienceLimitsRequireOneOfTheListedAudiences) {
  const ClientConfig client = ClientWith(std::vector<CallerRule>{
      {.pattern = "cn:reader", .audiences = std::vector<std::string>{"https://api.example.org"}}});

  EXPECT_TRUE(
      AuthorizeTokenRequest(client, Caller({"cn:reader"}), {}, "https://api.example.org").ok());
  EXPECT_THAT(AuthorizeTokenRequest(client, Caller({"cn:reader"}), {}, "").message(),
              HasSubstr("for a token without audience"));
  EXPECT_EQ(
      AuthorizeTokenRequest(client, Caller({"cn:reader"}), {}, "https://other.example").code(),
      absl::StatusCode::kPermissionDenied);
}

TEST(CallerPolicyTest, AnotherMatchingRuleWithoutLimitsWins) {
  const ClientConfig client = ClientWith(
      std::vector<CallerRule>{{.pattern = "cn:*", .scopes = std::vector<std::string>{"api.read"}},
                              {.pattern = "cn:admin"}});

  EXPECT_TRUE(AuthorizeTokenRequest(client, Caller({"cn:admin"}), {"api.write"}, "").ok());
}

Config ConfigWith(const std::string& address, bool open_client) {
  Config config;
  config.listeners = {ListenerConfig{.address = "unix:/run/a.sock"},
                      ListenerConfig{.address = address}};
  config.clients = {
      ClientWith(std::vector<CallerRule>{{.pattern = "uid:0"}}),
      ClientWith(open_client ? std::nullopt
                             : std::optional(std::vector<CallerRule>{{.pattern = "uid:0"}}))};
  config.clients[1].name = "exports";
  return config;
}

TEST(CallerExposureTest, AnOpenClientBeyondLoopbackIsRefusedNamingListenerAndClient) {
  const absl::Status status = CheckNoClientOpenBeyondLoopback(ConfigWith("0.0.0.0:50051", true));

  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("listener 0.0.0.0:50051 is reachable beyond this "
                                          "machine, and client(s) exports have no "
                                          "allowed_callers"));
  EXPECT_THAT(status.message(), HasSubstr("--insecure-allow-any-caller"));
}

TEST(CallerExposureTest, LoopbackUnixOrNamedCallersAreFine) {
  EXPECT_TRUE(CheckNoClientOpenBeyondLoopback(ConfigWith("127.0.0.1:50051", true)).ok());
  EXPECT_TRUE(CheckNoClientOpenBeyondLoopback(ConfigWith("[::1]:50051", true)).ok());
  EXPECT_TRUE(CheckNoClientOpenBeyondLoopback(ConfigWith("0.0.0.0:50051", false)).ok());
}

}  // namespace
}  // namespace agentauth
