// agentauth end to end, in process: the real gRPC service on a loopback port, called through the
// C++ client, fetching from the real development identity provider. Time is a fake clock, so
// expiry is tested without waiting for it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <latch>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "client/agentauth_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/app/agentauth_server.h"
#include "server/http/curl_http_client.h"
#include "tests/testing/captured_log.h"
#include "tests/testing/dev_idp.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_scheduler.h"
#include "tests/testing/status_printing.h"
#include "tests/testing/temp_dir.h"

namespace agentauth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using v1::GetAccessTokenResponse;
using v1::GetStatusResponse;

// The payload of a JWT, decoded without verification.
nlohmann::json JwtClaims(const std::string& token) {
  const std::vector<std::string> parts = absl::StrSplit(token, '.');
  std::string payload;
  if (parts.size() != 3 || !absl::WebSafeBase64Unescape(parts[1], &payload)) return {};
  return nlohmann::json::parse(payload, nullptr, false);
}

// A TCP socket that accepts connections into its backlog and never answers: a provider that hangs.
class SilentListener {
 public:
  SilentListener() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address = {};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    listen(fd_, 16);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~SilentListener() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

class ServiceIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    idp_ = &testing::DevIdp::Shared();
    absl::StatusOr<std::unique_ptr<testing::DevIdp>> short_idp =
        testing::DevIdp::Start({.token_lifetime_seconds = 30});
    ASSERT_TRUE(short_idp.ok()) << short_idp.status();
    short_lived_idp_ = short_idp->release();
  }

  static void TearDownTestSuite() { delete short_lived_idp_; }

  ServiceIntegrationTest()
      : secrets_dir_(temp_.path()),
        logger_(clock_, LogLevel::kDebug, LogFormat::kText, log_.Sink()) {}

  ~ServiceIntegrationTest() override { server_.reset(); }

  // No line agentauth logged may hold a secret or a token it served.
  void TearDown() override {
    for (const std::string& line : log_.Lines()) {
      for (const std::string& secret : secrets_) EXPECT_THAT(line, Not(HasSubstr(secret)));
      for (const std::string& token : served_tokens_) EXPECT_THAT(line, Not(HasSubstr(token)));
    }
  }

  std::string SecretFile(const std::string& name, const std::string& secret) {
    const std::string path = absl::StrCat(secrets_dir_, "/", name);
    std::ofstream(path) << secret << "\n";
    chmod(path.c_str(), 0600);  // agentauth refuses a secret file every user may read.
    secrets_.push_back(secret);
    return path;
  }

  // A client entry for the dev provider's demo-agent, with `extra` JSON fields.
  std::string DemoClient(const std::string& name, const std::string& extra = "",
                         const std::string& secret = testing::kBasicClientSecret) {
    return absl::StrCat(R"({"name": ")", name, R"(", "client_id": "demo-agent",
        "client_secret_file": ")",
                        SecretFile(name, secret), R"(", "scopes": ["itwin-platform", "api.read"])",
                        extra, "}");
  }

  void StartServer(const std::vector<std::string>& clients,
                   const std::string& issuer = idp_->issuer()) {
    const std::string text = absl::StrCat(
        // Every call here comes from one anonymous caller, which forces refreshes more often
        // than the default limit allows; that limit has tests of its own (caller_auth_test).
        R"({"listen": "127.0.0.1:0", "metrics_listen": "127.0.0.1:0",
            "limits": {"force_refresh": {"per_caller": 1000, "per": "1m"}}, "prewarm": )",
        prewarm_ ? "true" : "false", R"(, "defaults": {"authority": ")", issuer,
        R"(", "http": {"timeout": "2s"}}, "clients": [)", absl::StrJoin(clients, ","), "]}");
    absl::StatusOr<Config> config = ParseConfig(text, SecretSources::Real());
    ASSERT_TRUE(config.ok()) << config.status();

    absl::StatusOr<std::unique_ptr<AgentAuthServer>> server = AgentAuthServer::Start(
        *std::move(config), ServerOptions{},
        {clock_, logger_, http_, scheduler_, random_, SecretSources::Real()});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    client_ = std::make_unique<Client>(server_->address());
  }

  absl::StatusOr<GetAccessTokenResponse> Token(TokenOptions options) {
    absl::StatusOr<GetAccessTokenResponse> response = client_->GetAccessToken(options);
    if (response.ok()) served_tokens_.push_back(response->access_token());
    return response;
  }

  absl::StatusOr<GetAccessTokenResponse> Token(const std::string& client) {
    return Token(TokenOptions{.client = client});
  }

  int ProviderRequests(const testing::DevIdp& idp = *idp_) {
    absl::StatusOr<int> count = idp.TokenRequests("demo-agent");
    EXPECT_TRUE(count.ok()) << count.status();
    return count.value_or(-1);
  }

  static const testing::DevIdp* idp_;
  static testing::DevIdp* short_lived_idp_;

  testing::TempDir temp_;
  std::string secrets_dir_;

  testing::FakeClock clock_;
  testing::FakeScheduler scheduler_{clock_};
  testing::FixedRandom random_;
  testing::CapturedLog log_;
  Logger logger_;
  CurlHttpClient http_;
  std::vector<std::string> secrets_;
  std::vector<std::string> served_tokens_;
  bool prewarm_ = false;
  std::unique_ptr<AgentAuthServer> server_;
  std::unique_ptr<Client> client_;
};

const testing::DevIdp* ServiceIntegrationTest::idp_ = nullptr;
testing::DevIdp* ServiceIntegrationTest::short_lived_idp_ = nullptr;

TEST_F(ServiceIntegrationTest, ServesAJwtWhoseExpMatchesExpiresAt) {
  StartServer({DemoClient("reports")});

  absl::StatusOr<GetAccessTokenResponse> token = Token("reports");

  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->token_type(), "Bearer");
  EXPECT_EQ(token->authorization(), "Bearer " + token->access_token());
  EXPECT_THAT(token->scopes(), ::testing::ElementsAre("api.read", "itwin-platform"));
  const nlohmann::json claims = JwtClaims(token->access_token());
  ASSERT_TRUE(claims.is_object()) << "the dev provider issues JWT access tokens";
  EXPECT_EQ(claims["client_id"], "demo-agent");
  EXPECT_NEAR(claims["exp"].get<double>(), static_cast<double>(token->expires_at().seconds()), 2)
      << "expires_at is receipt time + expires_in, the provider's exp is iat + lifetime";
}

TEST_F(ServiceIntegrationTest, StatusBeforeAndAfterTheFirstFetch) {
  StartServer({DemoClient("reports")});

  absl::StatusOr<GetStatusResponse> before = client_->GetStatus("", absl::Seconds(5));
  ASSERT_TRUE(Token("reports").ok());
  ASSERT_TRUE(Token("reports").ok());
  absl::StatusOr<GetStatusResponse> after = client_->GetStatus("reports", absl::Seconds(5));

  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_EQ(before->clients_size(), 1);
  const v1::ClientStatus& cold = before->clients(0);
  EXPECT_EQ(cold.name(), "reports");
  EXPECT_EQ(cold.client_id(), "demo-agent");
  EXPECT_EQ(cold.issuer(), idp_->issuer());
  EXPECT_EQ(cold.token_endpoint(), "");
  EXPECT_FALSE(cold.has_signed_in());
  EXPECT_FALSE(cold.has_expired());
  EXPECT_FALSE(cold.is_authorized());
  EXPECT_EQ(cold.state(), v1::CLIENT_STATE_IDLE);
  EXPECT_FALSE(cold.has_expires_at());
  EXPECT_EQ(cold.fetches(), 0u);

  ASSERT_TRUE(after.ok()) << after.status();
  const v1::ClientStatus& warm = after->clients(0);
  EXPECT_EQ(warm.token_endpoint(), idp_->issuer() + "/token");
  EXPECT_TRUE(warm.has_signed_in());
  EXPECT_FALSE(warm.has_expired());
  EXPECT_TRUE(warm.is_authorized());
  EXPECT_EQ(warm.state(), v1::CLIENT_STATE_OK);
  EXPECT_EQ(warm.expires_at().seconds(), absl::ToUnixSeconds(clock_.Now() + absl::Hours(1)));
  EXPECT_EQ(warm.last_refresh().seconds(), absl::ToUnixSeconds(clock_.Now()));
  // Renewal at refresh_at 0.75 minus half the 5 % jitter (the fixed random is 0.5).
  EXPECT_EQ(warm.next_refresh().seconds(), absl::ToUnixSeconds(clock_.Now() + absl::Seconds(2610)));
  EXPECT_EQ(warm.last_error(), "");
  EXPECT_EQ(warm.cache_misses(), 1u);
  EXPECT_EQ(warm.cache_hits(), 1u);
  EXPECT_EQ(warm.fetches(), 1u);
  EXPECT_FALSE(after->server_version().empty());
  EXPECT_TRUE(after->has_start_time());
}

TEST_F(ServiceIntegrationTest, PrewarmFetchesEveryClientAndThenReportsReady) {
  prewarm_ = true;
  const int requests_before = ProviderRequests();
  StartServer({DemoClient("reports"), DemoClient("exports")});

  // Each call joins its client's prewarm fetch (or hits its result): no extra request.
  absl::StatusOr<GetAccessTokenResponse> reports = Token("reports");
  absl::StatusOr<GetAccessTokenResponse> exports = Token("exports");
  absl::StatusOr<GetStatusResponse> status = client_->GetStatus("", absl::Seconds(5));

  ASSERT_TRUE(reports.ok() && exports.ok());
  EXPECT_EQ(ProviderRequests() - requests_before, 2);
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(status->ready());
  for (const v1::ClientStatus& client : status->clients()) {
    EXPECT_EQ(client.state(), v1::CLIENT_STATE_OK);
  }
}

TEST_F(ServiceIntegrationTest, TokensAreRenewedInTheBackgroundBeforeCallersNeedThem) {
  prewarm_ = true;
  StartServer({DemoClient("reports")});
  absl::StatusOr<GetAccessTokenResponse> first = Token("reports");
  ASSERT_TRUE(first.ok());
  const int requests_before = ProviderRequests();

  // Past the renewal point (72.5 % of 3600 s); the renewal runs on the real fetch pool.
  scheduler_.Advance(absl::Seconds(2611));
  absl::StatusOr<GetAccessTokenResponse> renewed = Token(TokenOptions{
      .client = "reports", .min_validity = absl::Minutes(20), .timeout = absl::Seconds(10)});

  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_NE(renewed->access_token(), first->access_token());
  EXPECT_EQ(ProviderRequests() - requests_before, 1) << "the caller joined the renewal";
}

TEST_F(ServiceIntegrationTest, ShortLivedTokenIsFetchedAgainAfterHalfItsLifetime) {
  StartServer({DemoClient("reports")}, short_lived_idp_->issuer());
  const int requests_before = ProviderRequests(*short_lived_idp_);

  absl::StatusOr<GetAccessTokenResponse> first = Token("reports");
  clock_.Advance(absl::Seconds(14));
  absl::StatusOr<GetAccessTokenResponse> still_cached = Token("reports");
  clock_.Advance(absl::Seconds(2));
  absl::StatusOr<GetAccessTokenResponse> refetched = Token("reports");

  ASSERT_TRUE(first.ok() && still_cached.ok() && refetched.ok());
  EXPECT_EQ(still_cached->access_token(), first->access_token());
  EXPECT_NE(refetched->access_token(), first->access_token());
  EXPECT_EQ(ProviderRequests(*short_lived_idp_) - requests_before, 2);
}

TEST_F(ServiceIntegrationTest, ExpiredTokenIsFetchedAgainOnce) {
  StartServer({DemoClient("reports")});
  const int requests_before = ProviderRequests();

  absl::StatusOr<GetAccessTokenResponse> first = Token("reports");
  // Less than min_validity (60 s) left. Not past the hour: the provider's next JWT would then
  // carry an exp behind this fake clock and be rejected as already expired.
  clock_.Advance(absl::Seconds(3600 - 59));
  absl::StatusOr<GetAccessTokenResponse> second = Token("reports");
  absl::StatusOr<GetAccessTokenResponse> third = Token("reports");

  ASSERT_TRUE(first.ok() && second.ok() && third.ok());
  EXPECT_NE(second->access_token(), first->access_token());
  EXPECT_EQ(third->access_token(), second->access_token());
  EXPECT_EQ(ProviderRequests() - requests_before, 2);
}

TEST_F(ServiceIntegrationTest, TwoHundredConcurrentColdCallsMakeOneProviderRequest) {
  StartServer({DemoClient("reports")});
  const int requests_before = ProviderRequests();
  constexpr int kCallers = 200;

  std::vector<absl::StatusOr<GetAccessTokenResponse>> results(kCallers);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      results[i] = client_->GetAccessToken({.client = "reports", .timeout = absl::Seconds(20)});
    });
  }
  for (std::thread& caller : callers) caller.join();

  EXPECT_EQ(ProviderRequests() - requests_before, 1);
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  served_tokens_.push_back(results[0]->access_token());
  for (const auto& result : results) {
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->access_token(), results[0]->access_token());
  }
}

TEST_F(ServiceIntegrationTest, ConcurrentForcedRefreshesShareOneFetch) {
  StartServer({DemoClient("reports")});
  absl::StatusOr<GetAccessTokenResponse> cached = Token("reports");
  ASSERT_TRUE(cached.ok());
  const int requests_before = ProviderRequests();

  std::vector<absl::StatusOr<GetAccessTokenResponse>> results(20);
  std::vector<std::thread> callers;
  // All callers start together: thread start-up alone (slow under sanitizers) must not spread
  // them over more than one fetch.
  std::latch start(static_cast<std::ptrdiff_t>(results.size()));
  for (auto& result : results) {
    callers.emplace_back([&] {
      start.arrive_and_wait();
      result = client_->GetAccessToken({.client = "reports", .force_refresh = true});
    });
  }
  for (std::thread& caller : callers) caller.join();

  const int requests = ProviderRequests() - requests_before;
  EXPECT_GE(requests, 1);
  EXPECT_LE(requests, 2) << "callers arriving after the first forced fetch ended start one more";
  for (const auto& result : results) {
    ASSERT_TRUE(result.ok()) << result.status();
    served_tokens_.push_back(result->access_token());
    EXPECT_NE(result->access_token(), cached->access_token());
  }
}

TEST_F(ServiceIntegrationTest, SubsetOfScopesGetsItsOwnToken) {
  StartServer({DemoClient("reports")});

  absl::StatusOr<GetAccessTokenResponse> narrow =
      Token(TokenOptions{.client = "reports", .scopes = {"api.read"}});

  ASSERT_TRUE(narrow.ok()) << narrow.status();
  EXPECT_THAT(narrow->scopes(), ::testing::ElementsAre("api.read"));
  EXPECT_EQ(JwtClaims(narrow->access_token())["scope"], "api.read");
}

TEST_F(ServiceIntegrationTest, AudienceBecomesTheTokensAudience) {
  StartServer({DemoClient("reports")});

  absl::StatusOr<GetAccessTokenResponse> token =
      Token(TokenOptions{.client = "reports", .audience = "urn:agentauth:dev-api"});

  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(JwtClaims(token->access_token())["aud"], "urn:agentauth:dev-api");
}

TEST_F(ServiceIntegrationTest, ClientSecretPostAndReservedCharactersWork) {
  StartServer(
      {absl::StrCat(R"({"name": "post", "client_id": "demo-agent-post", "client_secret_file": ")",
                    SecretFile("post", testing::kPostClientSecret),
                    R"(", "auth_method": "client_secret_post"})"),
       absl::StrCat(R"({"name": "reserved", "client_id": "agent:with+reserved",
                        "client_secret_file": ")",
                    SecretFile("reserved", testing::kReservedClientSecret), R"("})")});

  absl::StatusOr<GetAccessTokenResponse> post = Token("post");
  absl::StatusOr<GetAccessTokenResponse> reserved = Token("reserved");

  ASSERT_TRUE(post.ok()) << post.status();
  ASSERT_TRUE(reserved.ok()) << reserved.status();
  EXPECT_EQ(JwtClaims(reserved->access_token())["client_id"], "agent:with+reserved");
}

// Kubernetes updates a mounted Secret by pointing the ..data symlink at a new directory.
void SwapSecretLikeKubernetes(const std::string& dir, const std::string& secret) {
  static int version = 0;
  const std::string target = absl::StrCat(dir, "/..v", ++version);
  mkdir(target.c_str(), 0700);
  std::ofstream(target + "/secret") << secret << "\n";
  // A Secret volume with defaultMode 0400; the default 0644 would be refused as world-readable.
  chmod((target + "/secret").c_str(), 0400);
  const std::string temporary = dir + "/..data_tmp";
  symlink(target.c_str(), temporary.c_str());
  rename(temporary.c_str(), (dir + "/..data").c_str());
}

TEST_F(ServiceIntegrationTest, RotatedSecretIsUsedAtOnceEvenAfterARejection) {
  const std::string dir = secrets_dir_ + "/mounted";
  mkdir(dir.c_str(), 0700);
  SwapSecretLikeKubernetes(dir, "wrong-secret");
  symlink("..data/secret", (dir + "/secret").c_str());
  secrets_.push_back("wrong-secret");
  secrets_.push_back(testing::kBasicClientSecret);
  StartServer({absl::StrCat(R"({"name": "reports", "client_id": "demo-agent",
                               "client_secret_file": ")",
                            dir, R"(/secret"})")});
  absl::StatusOr<GetAccessTokenResponse> rejected = Token("reports");

  SwapSecretLikeKubernetes(dir, testing::kBasicClientSecret);
  scheduler_.Advance(absl::Seconds(10));
  absl::StatusOr<GetAccessTokenResponse> accepted = Token("reports");

  EXPECT_EQ(rejected.status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(accepted.ok()) << accepted.status() << " (the negative cache must not hold it)";
}

TEST_F(ServiceIntegrationTest, TokenOfTheOldSecretIsNotServedAfterRotation) {
  const std::string file = SecretFile("reports", testing::kBasicClientSecret);
  StartServer({absl::StrCat(R"({"name": "reports", "client_id": "demo-agent",
                               "client_secret_file": ")",
                            file, R"("})")});
  ASSERT_TRUE(Token("reports").ok());

  std::ofstream(file) << "revoked-secret\n";
  secrets_.push_back("revoked-secret");
  EXPECT_EQ(server_->CheckSecretsNow(), 1);
  absl::StatusOr<GetAccessTokenResponse> after = Token("reports");

  EXPECT_EQ(after.status().code(), absl::StatusCode::kFailedPrecondition)
      << "the cached token of the old secret must not be handed out";
}

TEST_F(ServiceIntegrationTest, ReloadKeepsUnchangedClientsAndAppliesTheRest) {
  const std::string kept = DemoClient("kept");
  StartServer({kept, DemoClient("changed"), DemoClient("removed")});
  absl::StatusOr<GetAccessTokenResponse> kept_before = Token("kept");
  absl::StatusOr<GetAccessTokenResponse> changed_before = Token("changed");
  ASSERT_TRUE(kept_before.ok() && changed_before.ok() && Token("removed").ok());
  const int requests_before = ProviderRequests();

  absl::StatusOr<Config> next =
      ParseConfig(absl::StrCat(R"({"listen": "127.0.0.1:0", "metrics_listen": "127.0.0.1:0",
                       "prewarm": false, "defaults": {"authority": ")",
                               idp_->issuer(), R"(", "http": {"timeout": "2s"}}, "clients": [)",
                               kept, ",", DemoClient("changed", R"(, "min_validity": "2m")"), ",",
                               DemoClient("added"), "]}"),
                  SecretSources::Real());
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_TRUE(server_->Reload(*next).ok());

  absl::StatusOr<GetAccessTokenResponse> kept_after = Token("kept");
  absl::StatusOr<GetAccessTokenResponse> changed_after = Token("changed");
  absl::StatusOr<GetAccessTokenResponse> added = Token("added");
  absl::StatusOr<GetAccessTokenResponse> removed = Token("removed");

  ASSERT_TRUE(kept_after.ok() && changed_after.ok() && added.ok());
  EXPECT_EQ(kept_after->access_token(), kept_before->access_token()) << "kept its cached token";
  EXPECT_NE(changed_after->access_token(), changed_before->access_token());
  EXPECT_EQ(removed.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ProviderRequests() - requests_before, 2) << "changed and added only";
  EXPECT_THAT(log_.Lines(), ::testing::Contains(HasSubstr(
                                "config reloaded added=added removed=removed changed=changed")));
}

TEST_F(ServiceIntegrationTest, ClientSecretJwtClientGetsATokenThroughTheService) {
  StartServer({absl::StrCat(R"({"name": "jwt", "client_id": ")", testing::kJwtClientId,
                            R"(", "auth_method": "client_secret_jwt", "client_secret_file": ")",
                            SecretFile("jwt", testing::kJwtClientSecret), R"("})")});

  absl::StatusOr<GetAccessTokenResponse> token = Token("jwt");

  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(JwtClaims(token->access_token())["client_id"], testing::kJwtClientId);
}

TEST_F(ServiceIntegrationTest, AllowInsecureHttpIsWarnedAboutAtStartForEachClientUsingIt) {
  StartServer({DemoClient("reports", R"(, "allow_insecure_http": true)"), DemoClient("exports")});

  EXPECT_THAT(log_.Lines(), ::testing::Contains(
                                HasSubstr("WARNING config insecure_http_allowed client=reports")));
  EXPECT_THAT(log_.Lines(),
              Not(::testing::Contains(HasSubstr("insecure_http_allowed client=exports"))));
}

TEST_F(ServiceIntegrationTest, UnknownClientIsNotFound) {
  StartServer({DemoClient("reports")});

  absl::StatusOr<GetAccessTokenResponse> token = Token("nobody");

  EXPECT_EQ(token.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(token.status().message(),
            "unknown client \"nobody\"; `agentauth status` lists the configured clients");
}

TEST_F(ServiceIntegrationTest, ScopeOutsideTheClientsIsInvalidArgument) {
  StartServer({DemoClient("reports")});

  absl::StatusOr<GetAccessTokenResponse> token =
      Token(TokenOptions{.client = "reports", .scopes = {"api.write"}});

  EXPECT_EQ(token.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(token.status().message()), HasSubstr("client \"reports\": scope"));
}

TEST_F(ServiceIntegrationTest, WrongSecretIsFailedPreconditionNamingInvalidClient) {
  StartServer({DemoClient("reports", "", "wrong-secret")});

  absl::StatusOr<GetAccessTokenResponse> token = Token("reports");
  absl::StatusOr<GetStatusResponse> status = client_->GetStatus("reports", absl::Seconds(5));

  EXPECT_EQ(token.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(token.status().message()),
              HasSubstr("client \"reports\": the provider rejected the token request: "
                        "invalid_client"));
  EXPECT_THAT(std::string(token.status().message()), Not(HasSubstr("wrong-secret")));
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->clients(0).state(), v1::CLIENT_STATE_FAILING);
  EXPECT_EQ(status->clients(0).consecutive_failures(), 1u);
  EXPECT_THAT(status->clients(0).last_error(), HasSubstr("invalid_client"));
}

TEST_F(ServiceIntegrationTest, ScopeTheProviderDoesNotKnowIsFailedPrecondition) {
  StartServer({absl::StrCat(
      R"({"name": "bogus", "client_id": "demo-agent", "client_secret_file": ")",
      SecretFile("bogus", testing::kBasicClientSecret), R"(", "scopes": ["no.such.scope"]})")});

  absl::StatusOr<GetAccessTokenResponse> token = Token("bogus");

  EXPECT_EQ(token.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(token.status().message()), HasSubstr("invalid_scope"));
}

TEST_F(ServiceIntegrationTest, ProviderDownIsUnavailable) {
  StartServer({DemoClient("reports")},
              absl::StrCat("http://127.0.0.1:", testing::UnusedLoopbackPort()));

  absl::StatusOr<GetAccessTokenResponse> token = Token("reports");

  EXPECT_EQ(token.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(token.status().message()),
              HasSubstr("client \"reports\": discovery at http://127.0.0.1:"));
}

TEST_F(ServiceIntegrationTest, CallersDeadlineBoundsTheWaitForAHangingProvider) {
  SilentListener hanging;
  StartServer({DemoClient("reports")}, absl::StrCat("http://127.0.0.1:", hanging.port()));

  absl::StatusOr<GetAccessTokenResponse> token =
      Token(TokenOptions{.client = "reports", .timeout = absl::Milliseconds(300)});
  absl::StatusOr<GetStatusResponse> status = client_->GetStatus("reports", absl::Seconds(5));

  EXPECT_EQ(token.status().code(), absl::StatusCode::kDeadlineExceeded);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->clients(0).state(), v1::CLIENT_STATE_REFRESHING)
      << "the abandoned caller leaves the fetch running; it ends at the provider timeout, and "
         "the server's shutdown then completes the cancelled call without touching it";
}

}  // namespace
}  // namespace agentauth
