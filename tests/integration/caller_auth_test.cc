// Caller authentication and authorization end to end, in process: the real daemon on real
// sockets (TLS with client certificates, Unix sockets, plain TCP with service account tokens),
// called through the C++ client, fetching from the real development identity provider.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/agentauth_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/app/agentauth_server.h"
#include "server/http/curl_http_client.h"
#include "tests/testing/captured_log.h"
#include "tests/testing/dev_idp.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_scheduler.h"
#include "tests/testing/fault_provider.h"
#include "tests/testing/status_printing.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_jwt.h"

namespace agentauth {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::TestSigningKey;
using v1::GetAccessTokenResponse;

constexpr char kAudience[] = "agentauth";

class CallerAuthTest : public ::testing::Test {
 protected:
  CallerAuthTest()
      : dir_(temp_.path()), logger_(clock_, LogLevel::kDebug, LogFormat::kText, log_.Sink()) {
    temp_.Write("secret", absl::StrCat(testing::kBasicClientSecret, "\n"));
  }

  ~CallerAuthTest() override { server_.reset(); }

  // A client of the dev provider's demo-agent named `name`, with `extra` JSON fields.
  std::string DemoClient(const std::string& name, const std::string& extra = "") {
    return absl::StrCat(R"({"name": ")", name, R"(", "client_id": "demo-agent",
        "client_secret_file": ")",
                        dir_, R"(/secret", "scopes": ["itwin-platform", "api.read"])", extra, "}");
  }

  absl::Status StartServer(const std::string& top_level, const std::vector<std::string>& clients,
                           ServerOptions options = {}) {
    absl::StatusOr<std::unique_ptr<AgentAuthServer>> server = Launch(top_level, clients, options);
    if (!server.ok()) return server.status();
    server_ = *std::move(server);
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<AgentAuthServer>> Launch(const std::string& top_level,
                                                          const std::vector<std::string>& clients,
                                                          ServerOptions options = {}) {
    const std::string text = absl::StrCat(
        R"({"metrics_listen": "127.0.0.1:0", "prewarm": false, "defaults": {"authority": ")",
        testing::DevIdp::Shared().issuer(), R"("}, )", top_level, R"( "clients": [)",
        absl::StrJoin(clients, ","), "]}");
    absl::StatusOr<Config> config = ParseConfig(text, SecretSources::Real());
    if (!config.ok()) return config.status();
    return AgentAuthServer::Start(
        *std::move(config), options,
        {clock_, logger_, http_, scheduler_, random_, SecretSources::Real()});
  }

  std::string Scrape() {
    HttpRequest request;
    request.url = absl::StrCat("http://", server_->metrics_address(), "/metrics");
    absl::StatusOr<HttpResponse> response = http_.Send(request);
    return response.ok() ? response->body : response.status().ToString();
  }

  testing::TempDir temp_;
  std::string dir_;
  testing::FakeClock clock_;
  testing::FakeScheduler scheduler_{clock_};
  testing::FixedRandom random_;
  testing::CapturedLog log_;
  Logger logger_;
  CurlHttpClient http_;
  std::unique_ptr<AgentAuthServer> server_;
};

// ---------------------------------------------------------------------------------------------
// Mutual TLS

class MutualTlsTest : public CallerAuthTest {
 protected:
  void SetUp() override {
    absl::StatusOr<testing::TestCertificateAuthority> ca =
        testing::TestCertificateAuthority::Create(dir_, "callers");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_.emplace(*std::move(ca));
    absl::StatusOr<testing::TestCertificateAuthority::ServerCertificate> server =
        ca_->Issue("server", {"127.0.0.1"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_certificate_ = *server;
  }

  std::string TlsListener() {
    return absl::StrCat(R"("listeners": [{"address": "127.0.0.1:0", "tls": {"cert_file": ")",
                        server_certificate_.certificate_file, R"(", "key_file": ")",
                        server_certificate_.key_file, R"(", "client_ca_file": ")",
                        ca_->certificate_file(), R"("}}],)");
  }

  std::unique_ptr<Client> ClientWith(
      const testing::TestCertificateAuthority::ServerCertificate& id) {
    absl::StatusOr<std::unique_ptr<Client>> client =
        Client::Connect({.target = server_->address(),
                         .tls_ca_file = ca_->certificate_file(),
                         .tls_cert_file = id.certificate_file,
                         .tls_key_file = id.key_file});
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  std::optional<testing::TestCertificateAuthority> ca_;
  testing::TestCertificateAuthority::ServerCertificate server_certificate_;
};

TEST_F(MutualTlsTest, CallersAreIdentifiedBySpiffeIdDnsNameAndCommonName) {
  ASSERT_TRUE(
      StartServer(
          TlsListener(),
          {DemoClient("spiffe", R"(, "allowed_callers": ["spiffe://example.org/ns/reports/sa/*"])"),
           DemoClient("dns", R"(, "allowed_callers": ["dns:*.batch.example.org"])"),
           DemoClient("cn", R"(, "allowed_callers": ["cn:nightly-export"])")})
          .ok());
  auto spiffe =
      ca_->IssueClient("spiffe", "ignored-cn", {"URI:spiffe://example.org/ns/reports/sa/builder"});
  auto dns = ca_->IssueClient("dns", "ignored-cn-2", {"DNS:worker-1.batch.example.org"});
  auto cn = ca_->IssueClient("cn", "nightly-export", {});
  ASSERT_TRUE(spiffe.ok() && dns.ok() && cn.ok());

  absl::StatusOr<GetAccessTokenResponse> by_spiffe =
      ClientWith(*spiffe)->GetAccessToken({.client = "spiffe"});
  absl::StatusOr<GetAccessTokenResponse> by_dns =
      ClientWith(*dns)->GetAccessToken({.client = "dns"});
  absl::StatusOr<GetAccessTokenResponse> by_cn = ClientWith(*cn)->GetAccessToken({.client = "cn"});
  absl::StatusOr<GetAccessTokenResponse> spiffe_for_cn =
      ClientWith(*spiffe)->GetAccessToken({.client = "cn"});

  EXPECT_TRUE(by_spiffe.ok()) << by_spiffe.status();
  EXPECT_TRUE(by_dns.ok()) << by_dns.status();
  EXPECT_TRUE(by_cn.ok()) << by_cn.status();
  EXPECT_EQ(spiffe_for_cn.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(spiffe_for_cn.status().message(),
              HasSubstr("caller spiffe://example.org/ns/reports/sa/builder,cn:ignored-cn may not "
                        "use client \"cn\""));
  const std::string metrics = Scrape();
  EXPECT_THAT(metrics,
              HasSubstr(R"(agentauth_caller_decisions_total{client="cn",decision="denied"} 1)"));
  EXPECT_THAT(
      metrics,
      HasSubstr(R"(agentauth_caller_decisions_total{client="spiffe",decision="granted"} 1)"));
}

TEST_F(MutualTlsTest, ACallerWithoutACertificateOrWithAForeignOneCannotConnect) {
  ASSERT_TRUE(
      StartServer(TlsListener(), {DemoClient("reports", R"(, "allowed_callers": ["cn:*"])")}).ok());
  absl::StatusOr<testing::TestCertificateAuthority> other =
      testing::TestCertificateAuthority::Create(dir_, "other");
  ASSERT_TRUE(other.ok()) << other.status();
  auto foreign = other->IssueClient("foreign", "reports", {});
  ASSERT_TRUE(foreign.ok());

  absl::StatusOr<std::unique_ptr<Client>> anonymous =
      Client::Connect({.target = server_->address(), .tls_ca_file = ca_->certificate_file()});
  ASSERT_TRUE(anonymous.ok());
  absl::StatusOr<GetAccessTokenResponse> without =
      (*anonymous)->GetAccessToken({.client = "reports", .timeout = absl::Seconds(5)});
  absl::StatusOr<GetAccessTokenResponse> with_foreign =
      ClientWith(*foreign)->GetAccessToken({.client = "reports", .timeout = absl::Seconds(5)});

  EXPECT_EQ(without.status().code(), absl::StatusCode::kUnavailable) << without.status();
  EXPECT_EQ(with_foreign.status().code(), absl::StatusCode::kUnavailable) << with_foreign.status();
}

TEST_F(MutualTlsTest, ServerOnlyTlsServesCallersWithoutCertificatesAsAnonymous) {
  const std::string listener =
      absl::StrCat(R"("listeners": [{"address": "127.0.0.1:0", "tls": {"cert_file": ")",
                   server_certificate_.certificate_file, R"(", "key_file": ")",
                   server_certificate_.key_file, R"("}}],)");
  ASSERT_TRUE(StartServer(listener, {DemoClient("open"),
                                     DemoClient("named", R"(, "allowed_callers": ["cn:*"])")})
                  .ok());
  absl::StatusOr<std::unique_ptr<Client>> caller =
      Client::Connect({.target = server_->address(), .tls_ca_file = ca_->certificate_file()});
  ASSERT_TRUE(caller.ok()) << caller.status();

  absl::StatusOr<GetAccessTokenResponse> open = (*caller)->GetAccessToken({.client = "open"});
  absl::StatusOr<GetAccessTokenResponse> named = (*caller)->GetAccessToken({.client = "named"});
  Client plaintext(server_->address());
  absl::StatusOr<GetAccessTokenResponse> without_tls =
      plaintext.GetAccessToken({.client = "open", .timeout = absl::Seconds(5)});

  EXPECT_TRUE(open.ok()) << open.status();
  EXPECT_EQ(named.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(without_tls.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(MutualTlsTest, AKeyThatDoesNotBelongToTheCertificateStopsTheStart) {
  auto other = ca_->Issue("other", {"127.0.0.1"});
  ASSERT_TRUE(other.ok());
  server_certificate_.key_file = other->key_file;

  const absl::Status status = StartServer(TlsListener(), {DemoClient("reports")});

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(absl::StrCat(other->key_file,
                                                       " is not the private key of the certificate "
                                                       "in ",
                                                       server_certificate_.certificate_file)));
}

// ---------------------------------------------------------------------------------------------
// Kubernetes service account tokens

const TestSigningKey& RsaKey() {
  static const auto* key = new TestSigningKey(TestSigningKey::Type::kRsa2048, "rsa-1");
  return *key;
}
const TestSigningKey& EcKey() {
  static const auto* key = new TestSigningKey(TestSigningKey::Type::kEcP256, "ec-1");
  return *key;
}

class ServiceAccountTest : public CallerAuthTest {
 protected:
  // The "API server": discovery and JWKS on a loopback provider of our own.
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<testing::FaultProvider>> api_server =
        testing::FaultProvider::Start({});
    ASSERT_TRUE(api_server.ok()) << api_server.status();
    api_server_ = *std::move(api_server);
    issuer_ = api_server_->base_url();
    api_server_->SetDocument(
        "/.well-known/openid-configuration",
        testing::FaultStep::Json(
            200, nlohmann::json({{"issuer", issuer_}, {"jwks_uri", issuer_ + "/openid/v1/jwks"}})
                     .dump()));
    api_server_->SetDocument("/openid/v1/jwks",
                             testing::FaultStep::Json(200, testing::JwksOf({&RsaKey(), &EcKey()})));
  }

  std::string KubernetesAuth(const std::string& source = "") {
    return absl::StrCat(R"("listen": "127.0.0.1:0", "caller_auth": {"kubernetes": {"issuer": ")",
                        issuer_, R"(", "audience": ")", kAudience, "\"", source, "}},");
  }

  std::vector<std::string> Clients() {
    return {DemoClient("reports", R"(, "allowed_callers": ["serviceaccount:reports/*"])"),
            DemoClient("open")};
  }

  // Calls as the bearer of `token` (through the client's --token-file path).
  absl::StatusOr<GetAccessTokenResponse> CallWith(const std::string& token,
                                                  const std::string& client = "reports") {
    const std::string file = temp_.Write("token", token);
    absl::StatusOr<std::unique_ptr<Client>> caller =
        Client::Connect({.target = server_->address(), .token_file = file});
    if (!caller.ok()) return caller.status();
    return (*caller)->GetAccessToken({.client = client});
  }

  nlohmann::json Claims(const std::string& account = "builder") {
    return testing::ServiceAccountClaims(issuer_, kAudience, "reports", account, clock_.Now());
  }

  std::unique_ptr<testing::FaultProvider> api_server_;
  std::string issuer_;
};

TEST_F(ServiceAccountTest, Rs256AndEs256TokensFromDiscoveredKeysAreAccepted) {
  ASSERT_TRUE(StartServer(KubernetesAuth(), Clients()).ok());

  absl::StatusOr<GetAccessTokenResponse> rsa = CallWith(RsaKey().Sign(Claims()));
  absl::StatusOr<GetAccessTokenResponse> ec = CallWith(EcKey().Sign(Claims()));

  EXPECT_TRUE(rsa.ok()) << rsa.status();
  EXPECT_TRUE(ec.ok()) << ec.status();
  bool logged = false;
  for (const std::string& line : log_.Lines()) {
    if (absl::StrContains(line, "token_granted") &&
        absl::StrContains(line, "caller=serviceaccount:reports/builder") &&
        absl::StrContains(line, "token_fingerprint=")) {
      logged = true;
    }
  }
  EXPECT_TRUE(logged);
}

TEST_F(ServiceAccountTest, EachCallerIsLoggedOnceForEachTokenItIsHanded) {
  ASSERT_TRUE(StartServer(KubernetesAuth(), Clients()).ok());
  const std::string builder = RsaKey().Sign(Claims("builder"));

  for (int call = 0; call < 3; ++call) ASSERT_TRUE(CallWith(builder).ok());
  ASSERT_TRUE(CallWith(RsaKey().Sign(Claims("deployer"))).ok());

  auto grants_to = [&](absl::string_view caller) {
    int lines = 0;
    for (const std::string& line : log_.Lines()) {
      if (absl::StrContains(line, "token_granted") &&
          absl::StrContains(line, absl::StrCat("caller=", caller))) {
        ++lines;
      }
    }
    return lines;
  };
  EXPECT_EQ(grants_to("serviceaccount:reports/builder"), 1);
  EXPECT_EQ(grants_to("serviceaccount:reports/deployer"), 1);
}

TEST_F(ServiceAccountTest, KeysMayComeFromAFile) {
  const std::string jwks = temp_.Write("jwks.json", testing::JwksOf({&EcKey()}));
  ASSERT_TRUE(
      StartServer(KubernetesAuth(absl::StrCat(R"(, "jwks_file": ")", jwks, "\"")), Clients()).ok());

  absl::StatusOr<GetAccessTokenResponse> token = CallWith(EcKey().Sign(Claims()));

  EXPECT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(api_server_->Requests().size(), 0u);
}

TEST_F(ServiceAccountTest, InvalidTokensAreUnauthenticatedWithTheReason) {
  ASSERT_TRUE(StartServer(KubernetesAuth(), Clients()).ok());
  nlohmann::json expired = Claims();
  expired["exp"] = absl::ToUnixSeconds(clock_.Now() - absl::Minutes(5));
  nlohmann::json wrong_audience = Claims();
  wrong_audience["aud"] = "https://kubernetes.default.svc";
  nlohmann::json wrong_issuer = Claims();
  wrong_issuer["iss"] = "https://other-cluster.example";
  const TestSigningKey impostor(TestSigningKey::Type::kEcP256, "ec-1");
  const TestSigningKey unknown(TestSigningKey::Type::kEcP256, "ec-unknown");

  const std::vector<std::pair<std::string, std::string>> cases = {
      {EcKey().Sign(expired), "expired at"},
      {EcKey().Sign(wrong_audience), "its audience does not include \"agentauth\""},
      {EcKey().Sign(wrong_issuer), "issuer \"https://other-cluster.example\" is not"},
      {impostor.Sign(Claims()), "the signature does not verify"},
      {unknown.Sign(Claims()), "signed with key id \"ec-unknown\""},
  };
  for (const auto& [token, reason] : cases) {
    // Even a client open to everyone refuses a caller whose token is invalid.
    for (const char* client : {"reports", "open"}) {
      absl::StatusOr<GetAccessTokenResponse> result = CallWith(token, client);
      EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated) << reason;
      EXPECT_THAT(result.status().message(), HasSubstr(reason));
      EXPECT_THAT(result.status().message(), Not(HasSubstr(token.substr(token.rfind('.')))));
    }
  }
  EXPECT_THAT(
      Scrape(),
      HasSubstr(
          R"(agentauth_caller_decisions_total{client="reports",decision="unauthenticated"} 5)"));
}

TEST_F(ServiceAccountTest, AnotherServiceAccountIsDeniedAndNoTokenIsUnauthenticated) {
  ASSERT_TRUE(StartServer(KubernetesAuth(), Clients()).ok());
  nlohmann::json other =
      testing::ServiceAccountClaims(issuer_, kAudience, "billing", "builder", clock_.Now());

  absl::StatusOr<GetAccessTokenResponse> denied = CallWith(EcKey().Sign(other));
  Client anonymous(server_->address());
  absl::StatusOr<GetAccessTokenResponse> without_token =
      anonymous.GetAccessToken({.client = "reports"});
  absl::StatusOr<GetAccessTokenResponse> open = anonymous.GetAccessToken({.client = "open"});

  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(denied.status().message(),
              HasSubstr("caller serviceaccount:billing/builder may not use client \"reports\""));
  EXPECT_EQ(without_token.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(without_token.status().message(), HasSubstr("serves only identified callers"));
  EXPECT_TRUE(open.ok()) << open.status();
}

TEST_F(ServiceAccountTest, ABearerTokenWithoutKubernetesAuthConfiguredIsRefused) {
  ASSERT_TRUE(StartServer(R"("listen": "127.0.0.1:0",)", {DemoClient("open")}).ok());

  absl::StatusOr<GetAccessTokenResponse> result = CallWith(EcKey().Sign(Claims()), "open");

  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(result.status().message(), HasSubstr("caller_auth.kubernetes is not configured"));
}

TEST_F(ServiceAccountTest, ScopeLimitsOfACallerEntryApply) {
  ASSERT_TRUE(StartServer(KubernetesAuth(), {DemoClient("reports", R"(, "allowed_callers": [
                              {"caller": "serviceaccount:reports/*", "scopes": ["api.read"]}])")})
                  .ok());
  const std::string file = temp_.Write("token", EcKey().Sign(Claims()));
  absl::StatusOr<std::unique_ptr<Client>> caller =
      Client::Connect({.target = server_->address(), .token_file = file});
  ASSERT_TRUE(caller.ok());

  absl::StatusOr<GetAccessTokenResponse> narrow =
      (*caller)->GetAccessToken({.client = "reports", .scopes = {"api.read"}});
  absl::StatusOr<GetAccessTokenResponse> everything =
      (*caller)->GetAccessToken({.client = "reports"});

  EXPECT_TRUE(narrow.ok()) << narrow.status();
  EXPECT_EQ(everything.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(everything.status().message(),
              HasSubstr("may not ask client \"reports\" for scope \"itwin-platform\""));
}

// ---------------------------------------------------------------------------------------------
// Unix socket peers

TEST_F(CallerAuthTest, UnixSocketPeersAreIdentifiedByUidAndTheFileModeIsApplied) {
  const std::string socket = dir_ + "/agentauth.sock";
  ASSERT_TRUE(StartServer(absl::StrCat(R"("listeners": [{"address": "unix:)", socket,
                                       R"(", "socket_mode": "0660"}],)"),
                          {DemoClient("mine", absl::StrCat(R"(, "allowed_callers": ["uid:)",
                                                           getuid(), "\"]")),
                           DemoClient("theirs", R"(, "allowed_callers": ["uid:4242"])")})
                  .ok());
  struct stat info = {};
  ASSERT_EQ(stat(socket.c_str(), &info), 0);
  Client client("unix:" + socket);

  absl::StatusOr<GetAccessTokenResponse> mine = client.GetAccessToken({.client = "mine"});
  absl::StatusOr<GetAccessTokenResponse> theirs = client.GetAccessToken({.client = "theirs"});
  absl::StatusOr<v1::GetStatusResponse> status = client.GetStatus("", absl::Seconds(10));

  EXPECT_TRUE(S_ISSOCK(info.st_mode));
  EXPECT_EQ(info.st_mode & 0777, 0660u);
  EXPECT_TRUE(mine.ok()) << mine.status();
  EXPECT_EQ(theirs.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(theirs.status().message(),
              HasSubstr(absl::StrCat("caller uid:", getuid(), ",gid:", getgid(),
                                     " may not use client \"theirs\"")));
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_EQ(status->clients_size(), 1);
  EXPECT_EQ(status->clients(0).name(), "mine");
  EXPECT_EQ(client.GetStatus("theirs", absl::Seconds(10)).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(CallerAuthTest, AStaleSocketFileIsReplacedButNotAFileOrALiveSocket) {
  const std::string stale = dir_ + "/stale.sock";
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address = {};
  address.sun_family = AF_UNIX;
  std::strcpy(address.sun_path, stale.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  close(fd);  // The file stays behind, and nobody listens: a daemon that did not stop cleanly.
  const std::string regular = temp_.Write("regular.sock", "not a socket");

  const absl::Status on_stale =
      StartServer(absl::StrCat(R"("listen": "unix:)", stale, "\","), {DemoClient("open")});
  Client client("unix:" + stale);
  const bool served = client.GetAccessToken({.client = "open"}).ok();
  const absl::Status on_live =
      Launch(absl::StrCat(R"("listen": "unix:)", stale, "\","), {DemoClient("open")}).status();
  const absl::Status on_regular =
      Launch(absl::StrCat(R"("listen": "unix:)", regular, "\","), {DemoClient("open")}).status();

  EXPECT_TRUE(on_stale.ok()) << on_stale;
  EXPECT_TRUE(served);
  EXPECT_EQ(on_live.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(on_live.message(), HasSubstr("another process is serving on it"));
  EXPECT_THAT(on_regular.message(), HasSubstr("the path exists and is not a socket"));
}

// ---------------------------------------------------------------------------------------------
// Limits and the safe default

TEST_F(CallerAuthTest, ForcedRefreshesArePerCallerRateLimited) {
  ASSERT_TRUE(StartServer(R"("listen": "127.0.0.1:0",
      "limits": {"force_refresh": {"per_caller": 2, "per": "1m"}},)",
                          {DemoClient("reports")})
                  .ok());
  Client client(server_->address());
  const TokenOptions force = {.client = "reports", .force_refresh = true};

  const bool first = client.GetAccessToken(force).ok();
  const bool second = client.GetAccessToken(force).ok();
  absl::StatusOr<GetAccessTokenResponse> third = client.GetAccessToken(force);
  absl::StatusOr<GetAccessTokenResponse> cached = client.GetAccessToken({.client = "reports"});
  clock_.Advance(absl::Seconds(30));
  absl::StatusOr<GetAccessTokenResponse> later = client.GetAccessToken(force);

  EXPECT_TRUE(first && second);
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(third.status().message(), HasSubstr("retry force_refresh in 30s"));
  EXPECT_TRUE(cached.ok()) << cached.status();
  EXPECT_TRUE(later.ok()) << later.status();
  EXPECT_THAT(Scrape(), HasSubstr(R"(agentauth_force_refresh_limited_total{client="reports"} 1)"));
}

TEST_F(CallerAuthTest, OversizedRequestsAndFieldsAreRefused) {
  ASSERT_TRUE(StartServer(R"("listen": "127.0.0.1:0", "limits": {"max_request_bytes": 1024},)",
                          {DemoClient("reports")})
                  .ok());
  Client client(server_->address());

  absl::StatusOr<GetAccessTokenResponse> oversized = client.GetAccessToken(
      {.client = "reports", .audience = "https://api.example.org/" + std::string(1500, 'a')});
  absl::StatusOr<GetAccessTokenResponse> long_scope =
      client.GetAccessToken({.client = "reports", .scopes = {std::string(300, 's')}});

  EXPECT_EQ(oversized.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(long_scope.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(long_scope.status().message(), HasSubstr("a scope is longer than 256 bytes"));
}

TEST_F(CallerAuthTest, AnOpenClientIsNotServedBeyondLoopbackWithoutTheInsecureFlag) {
  const absl::Status refused = StartServer(R"("listen": "0.0.0.0:0",)", {DemoClient("reports")});

  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.message(), HasSubstr("client(s) reports have no allowed_callers"));
  EXPECT_EQ(server_, nullptr);
}

TEST_F(CallerAuthTest, TheInsecureFlagLetsTheStartProceedWithALoudWarning) {
  // 192.0.2.1 (TEST-NET-1) is no address of this machine: the start proceeds past the check and
  // then fails to bind, so nothing ever listens beyond loopback.
  const absl::Status status = StartServer(R"("listen": "192.0.2.1:0",)", {DemoClient("reports")},
                                          ServerOptions{.insecure_allow_any_caller = true});

  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  bool warned = false;
  for (const std::string& line : log_.Lines()) {
    warned = warned || (absl::StrContains(line, "WARNING server insecure_allow_any_caller") &&
                        absl::StrContains(line, "client(s) reports have no allowed_callers"));
  }
  EXPECT_TRUE(warned);
}

}  // namespace
}  // namespace agentauth
