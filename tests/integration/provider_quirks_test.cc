// The provider quirks PQ-07 to PQ-18 (../../shared/cases/provider-quirks.md), end to end: the
// in-process daemon with the real libcurl client, called over gRPC with the C++ client, against
// a fault-injecting provider on loopback that answers exactly as each case describes. Time is a
// fake clock driving a fake scheduler, so backoff windows, Retry-After waits and negative caching
// are crossed by advancing it, and the provider counts what reached it. Nothing here sleeps:
// tests wait on the provider's recorded requests, on the daemon's log or on the call itself.
//
// Every test also checks, in TearDown, that no log line and no error message holds the client
// secret or a token the provider issued, and that every log line is one line.
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <sys/resource.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "agentauth/v1/token_service.grpc.pb.h"
#include "client/agentauth_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/app/agentauth_server.h"
#include "server/http/curl_http_client.h"
#include "tests/testing/captured_log.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_scheduler.h"
#include "tests/testing/fault_provider.h"
#include "tests/testing/status_printing.h"
#include "tests/testing/temp_dir.h"

namespace agentauth {
namespace {

using ::testing::AnyOf;
using testing::ConnectProxy;
using testing::FaultProvider;
using testing::FaultStep;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::RecordedRequest;
using testing::ScopedEnv;
using testing::TestCertificateAuthority;
using v1::ClientStatus;
using v1::GetAccessTokenResponse;

// The case file's placeholders.
constexpr char kClient[] = "client-a";
constexpr char kSecret[] = "s3cr3t";

// How long a test waits for something the daemon does on its own threads. Generous: it is only
// reached when the test fails.
constexpr absl::Duration kEventTimeout = absl::Seconds(10);

bool HasControlCharacter(absl::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) == 0x7f;
  });
}

std::string Base64Url(absl::string_view text) {
  std::string encoded;
  absl::WebSafeBase64Escape(text, &encoded);
  return encoded;
}

// A JWT of at least `min_bytes` whose payload carries a big "groups" claim.
std::string BigJwt(size_t min_bytes) {
  const std::string header = Base64Url(R"({"alg":"RS256","typ":"JWT","kid":"fault"})");
  const std::string signature = Base64Url(std::string(256, 'S'));
  std::string groups = R"("group-000000")";
  std::string token;
  for (int i = 1; token.size() < min_bytes; ++i) {
    absl::StrAppend(&groups, ",\"group-", absl::Dec(i, absl::kZeroPad6), "\"");
    if (i % 64 != 0) continue;
    token = absl::StrCat(header, ".",
                         Base64Url(absl::StrCat(R"({"sub":"client-a","groups":[)", groups, "]}")),
                         ".", signature);
  }
  return token;
}

// An HTTP date (RFC 9110 5.6.7), as providers write Retry-After.
std::string HttpDate(absl::Time time) {
  return absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", time, absl::UTCTimeZone());
}

// Peak resident memory of this process.
size_t MaxResidentBytes() {
  rusage usage = {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<size_t>(usage.ru_maxrss) * 1024;
}

// Turns off the daemon's metrics listener: a fixed port would collide between tests running at
// once, and these tests read no metrics.
void WithoutMetricsListener(Config& config) { config.metrics_listen = ""; }

// The daemon's log, kept line by line, with a wait for a line to appear.
class WaitableLog {
 public:
  Logger::Sink Sink() {
    return [this, keep = log_.Sink()](absl::string_view line) {
      keep(line);
      std::lock_guard<std::mutex> lock(mutex_);
      changed_.notify_all();
    };
  }

  std::vector<std::string> Lines() const { return log_.Lines(); }

  int Count(absl::string_view needle) const {
    const std::vector<std::string> lines = log_.Lines();
    return static_cast<int>(std::count_if(lines.begin(), lines.end(), [&](const std::string& line) {
      return absl::StrContains(line, needle);
    }));
  }

  // Waits until at least `count` lines contain `needle`.
  bool WaitFor(absl::string_view needle, int count = 1) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, absl::ToChronoNanoseconds(kEventTimeout),
                             [&] { return Count(needle) >= count; });
  }

 private:
  testing::CapturedLog log_;
  std::mutex mutex_;
  std::condition_variable changed_;
};

// A GetAccessToken call through the generated stub, for what the C++ client does not show: the
// metadata the daemon sent along.
struct RawCall {
  grpc::Status status;
  GetAccessTokenResponse response;
  std::vector<std::pair<std::string, std::string>> metadata;
};

// The PKI of the TLS cases, made once per test process in a temporary directory.
struct TestPki {
  std::string dir;
  // CA "issuer": signs the provider's own host (127.0.0.1, localhost, idp.example.test).
  std::string issuer_ca_file;
  TestCertificateAuthority::ServerCertificate provider;
  // CA "private": signs only the token host on localhost of PQ-18.
  TestCertificateAuthority::ServerCertificate private_token_host;
  // Both CAs in one bundle.
  std::string both_cas_file;
};

class ProviderQuirksTest : public ::testing::Test {
 protected:
  ProviderQuirksTest()
      : logger_(clock_, LogLevel::kDebug, LogFormat::kText, log_.Sink()), dir_(temp_.path()) {
    secret_file_ = temp_.Write("client-a.secret", absl::StrCat(kSecret, "\n"));
    secrets_ = {kSecret, absl::Base64Escape(absl::StrCat(kClient, ":", kSecret))};
  }

  ~ProviderQuirksTest() override {
    // Providers first: closing their connections ends hangs and trickles at once, so the daemon's
    // fetches still running fail fast and its shutdown does not wait for HTTP timeouts.
    proxies_.clear();
    providers_.clear();
    client_.reset();
    server_.reset();
    while (!environment_.empty()) environment_.pop_back();  // Last set, first restored.
  }

  // No log line and no message a caller saw may hold a secret or an issued token; each event
  // is one line.
  void TearDown() override {
    std::vector<std::string> texts = log_.Lines();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      texts.insert(texts.end(), messages_.begin(), messages_.end());
    }
    for (const std::string& text : texts) {
      EXPECT_FALSE(HasControlCharacter(text)) << absl::CHexEscape(text);
      for (const std::string& secret : secrets_) {
        EXPECT_THAT(text, Not(HasSubstr(secret))) << "a secret leaked";
      }
      for (const std::string& token : issued_) {
        EXPECT_FALSE(absl::StrContains(text, token))
            << "an issued token (" << token.size()
            << " bytes) leaked into: " << text.substr(0, 300);
      }
    }
  }

  FaultProvider& StartProvider(const FaultProvider::Options& options = {}) {
    absl::StatusOr<std::unique_ptr<FaultProvider>> provider = FaultProvider::Start(options);
    EXPECT_TRUE(provider.ok()) << provider.status();
    providers_.push_back(*std::move(provider));
    return *providers_.back();
  }

  ConnectProxy& StartProxy(ConnectProxy::Options options) {
    absl::StatusOr<std::unique_ptr<ConnectProxy>> proxy = ConnectProxy::Start(std::move(options));
    EXPECT_TRUE(proxy.ok()) << proxy.status();
    proxies_.push_back(*std::move(proxy));
    return *proxies_.back();
  }

  // Sets an environment variable until the daemon has stopped. Call before StartDaemon.
  void SetEnv(const std::string& name, std::optional<std::string> value) {
    environment_.push_back(std::make_unique<ScopedEnv>(name, std::move(value)));
  }

  // The step that issues `token`, remembered so that no log line or message may hold it.
  FaultStep Issue(const std::string& token, int expires_in = 3600) {
    Remember(token);
    return FaultStep::Token(token, expires_in);
  }

  void Remember(const std::string& token) {
    issued_.push_back(token);
    // A fragment of a JWT is as bad as the whole.
    for (absl::string_view part : absl::StrSplit(token, '.')) {
      if (part.size() >= 16 && part != token) issued_.emplace_back(part);
    }
  }

  // The config entry of client `name`: client_id client-a, secret s3cr3t, `extra` members
  // (each starting with a comma).
  std::string ClientEntry(const std::string& name, const std::string& authority,
                          const std::string& extra = "") const {
    return absl::StrCat(R"({"name": ")", name, R"(", "client_id": "client-a",
        "client_secret_file": ")",
                        secret_file_, R"(", "authority": ")", authority, "\"", extra, "}");
  }

  std::string ConfigText(const std::vector<std::string>& clients) const {
    return absl::StrCat(R"({"listen": "127.0.0.1:0", "prewarm": false, "defaults": {
        "http": {"timeout": "2s"}, "retry": {"base": "1s", "cap": "60s"}}, "clients": [)",
                        absl::StrJoin(clients, ","), "]}");
  }

  void StartDaemon(const std::vector<std::string>& clients) {
    absl::StatusOr<Config> config = ParseConfig(ConfigText(clients), SecretSources::Real());
    ASSERT_TRUE(config.ok()) << config.status();
    WithoutMetricsListener(*config);

    absl::StatusOr<std::unique_ptr<AgentAuthServer>> server = AgentAuthServer::Start(
        *std::move(config), ServerOptions{},
        {clock_, logger_, http_, scheduler_, random_, SecretSources::Real()});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    client_ = std::make_unique<Client>(DaemonChannel());
  }

  // gRPC reads https_proxy and http_proxy too; the tests set them for libcurl only.
  std::shared_ptr<grpc::Channel> DaemonChannel() const {
    grpc::ChannelArguments arguments;
    arguments.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
    return grpc::CreateCustomChannel(server_->address(), grpc::InsecureChannelCredentials(),
                                     arguments);
  }

  absl::StatusOr<GetAccessTokenResponse> Token(TokenOptions options) {
    absl::StatusOr<GetAccessTokenResponse> response = client_->GetAccessToken(options);
    if (!response.ok()) Note(std::string(response.status().message()));
    return response;
  }

  absl::StatusOr<GetAccessTokenResponse> Token(const std::string& client = kClient) {
    return Token(TokenOptions{.client = client, .timeout = absl::Seconds(10)});
  }

  RawCall CallRaw(const std::string& client) {
    std::unique_ptr<v1::TokenService::Stub> stub = v1::TokenService::NewStub(DaemonChannel());
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::GetAccessTokenRequest request;
    request.set_client(client);

    RawCall call;
    call.status = stub->GetAccessToken(&context, request, &call.response);
    for (const auto* metadata :
         {&context.GetServerInitialMetadata(), &context.GetServerTrailingMetadata()}) {
      for (const auto& [key, value] : *metadata) {
        call.metadata.emplace_back(std::string(key.data(), key.size()),
                                   std::string(value.data(), value.size()));
      }
    }
    Note(call.status.error_message());
    return call;
  }

  ClientStatus Status(const std::string& client = kClient) {
    absl::StatusOr<v1::GetStatusResponse> status = client_->GetStatus(client, absl::Seconds(10));
    EXPECT_TRUE(status.ok()) << status.status();
    if (!status.ok() || status->clients_size() != 1) return ClientStatus();
    Note(status->clients(0).last_error());
    return status->clients(0);
  }

  // Moves the fake clock to the planned renewal of the client's token and no further, so that
  // the renewal's outcome is stamped with that time whenever it completes.
  void AdvanceToRenewal() {
    const ClientStatus status = Status();
    ASSERT_TRUE(status.has_next_refresh());
    const absl::Time renewal = absl::FromUnixSeconds(status.next_refresh().seconds()) +
                               absl::Nanoseconds(status.next_refresh().nanos() + 1);
    scheduler_.Advance(renewal - clock_.Now());
  }

  void Note(std::string message) {
    std::lock_guard<std::mutex> lock(mutex_);
    messages_.push_back(std::move(message));
  }

  // The test PKI, made on first use.
  static const TestPki& Pki() {
    static const TestPki* pki = [] {
      auto* made = new TestPki();
      // The keys live only as long as this process: the directory goes with it.
      static const testing::TempDir pki_dir;
      made->dir = pki_dir.path();
      absl::StatusOr<TestCertificateAuthority> issuer =
          TestCertificateAuthority::Create(made->dir, "issuer");
      absl::StatusOr<TestCertificateAuthority> private_ca =
          TestCertificateAuthority::Create(made->dir, "private");
      CheckMade(issuer.status());
      CheckMade(private_ca.status());
      made->issuer_ca_file = issuer->certificate_file();
      absl::StatusOr<TestCertificateAuthority::ServerCertificate> provider =
          issuer->Issue("provider", {"127.0.0.1", "localhost", "idp.example.test"});
      absl::StatusOr<TestCertificateAuthority::ServerCertificate> token_host =
          private_ca->Issue("token-host", {"localhost"});
      CheckMade(provider.status());
      CheckMade(token_host.status());
      made->provider = *provider;
      made->private_token_host = *token_host;
      made->both_cas_file = made->dir + "/both-cas.pem";
      std::ofstream both(made->both_cas_file);
      for (const std::string& file : {issuer->certificate_file(), private_ca->certificate_file()}) {
        both << std::ifstream(file).rdbuf();
      }
      return made;
    }();
    return *pki;
  }

  // Without its certificates no TLS test can run; they all share them, so stop here.
  static void CheckMade(const absl::Status& status) {
    if (status.ok()) return;
    std::fprintf(stderr, "cannot make the test certificates: %s\n", status.ToString().c_str());
    std::abort();
  }

  // A TLS provider with the issuer CA's certificate, named by `host`.
  FaultProvider& StartTlsProvider(const std::string& host = "127.0.0.1",
                                  bool omit_port_in_url = false) {
    return StartProvider({.tls_certificate_file = Pki().provider.certificate_file,
                          .tls_key_file = Pki().provider.key_file,
                          .host = host,
                          .omit_port_in_url = omit_port_in_url});
  }

  testing::FakeClock clock_;
  testing::FakeScheduler scheduler_{clock_};
  testing::FixedRandom random_;
  WaitableLog log_;
  Logger logger_;
  CurlHttpClient http_;
  // No proxy from the machine's environment may take the daemon's requests elsewhere.
  std::vector<std::unique_ptr<ScopedEnv>> environment_ = ScopedEnv::WithoutProxies();
  testing::TempDir temp_;
  std::string dir_;
  std::string secret_file_;
  std::vector<std::string> secrets_;
  std::vector<std::string> issued_;
  std::mutex mutex_;
  std::vector<std::string> messages_;
  std::vector<std::unique_ptr<FaultProvider>> providers_;
  std::vector<std::unique_ptr<ConnectProxy>> proxies_;
  std::unique_ptr<AgentAuthServer> server_;
  std::unique_ptr<Client> client_;
};

// Names a parameterized test's rows by their `name` field, in test names and in failures.
template <typename Row>
std::string RowName(const ::testing::TestParamInfo<Row>& info) {
  return info.param.name;
}

template <typename Row>
requires requires(const Row& row) { row.name; }
void PrintTo(const Row& row, std::ostream* out) { *out << row.name; }

// ---------------------------------------------------------------------------------------------
// PQ-07 Tokens of 16 KiB and 64 KiB; the HTTP client takes token responses of 256 KiB and more.

struct LargeTokenRow {
  std::string name;
  size_t token_bytes;
};

class PQ07LargeTokenTest : public ProviderQuirksTest,
                           public ::testing::WithParamInterface<LargeTokenRow> {};

TEST_P(PQ07LargeTokenTest, IsReturnedByteForByteAndNeverInMetadataOrLogs) {
  FaultProvider& idp = StartProvider();
  const std::string token = BigJwt(GetParam().token_bytes);
  idp.QueueToken(Issue(token));
  StartDaemon({ClientEntry(kClient, idp.base_url())});

  RawCall fetched = CallRaw(kClient);
  absl::StatusOr<GetAccessTokenResponse> cached = Token();

  ASSERT_TRUE(fetched.status.ok()) << fetched.status.error_message();
  EXPECT_GE(token.size(), GetParam().token_bytes);
  EXPECT_TRUE(fetched.response.access_token() == token)
      << "got " << fetched.response.access_token().size() << " bytes of " << token.size();
  EXPECT_TRUE(fetched.response.authorization() == "Bearer " + token);
  for (const auto& [key, value] : fetched.metadata) {
    EXPECT_LT(key.size() + value.size(), 1024u) << key;
    EXPECT_FALSE(absl::StrContains(value, token.substr(token.size() - 64))) << key;
  }
  ASSERT_TRUE(cached.ok()) << cached.status();
  EXPECT_TRUE(cached->access_token() == token);
  EXPECT_EQ(idp.TokenRequestCount(), 1);
  for (const std::string& line : log_.Lines()) EXPECT_LT(line.size(), 1024u) << line;
  ASSERT_EQ(log_.Count("first_token"), 1);
  for (const std::string& line : log_.Lines()) {
    const size_t at = line.find("token_fingerprint=");
    if (at == std::string::npos) continue;
    const std::string fingerprint = line.substr(at, line.find(' ', at) - at);
    EXPECT_LE(fingerprint.size(), std::string("token_fingerprint=").size() + 16) << line;
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, PQ07LargeTokenTest,
                         ::testing::Values(LargeTokenRow{"Token16KiB", 16 << 10},
                                           LargeTokenRow{"Token64KiB", 64 << 10},
                                           LargeTokenRow{"Response256KiB", 256 << 10}),
                         RowName<LargeTokenRow>);

// ---------------------------------------------------------------------------------------------
// PQ-08 HTML instead of JSON.

struct HtmlRow {
  std::string name;
  int status;
  std::string content_type;
  std::string body;
  absl::StatusCode code;
  bool transient;
};

// A page of `title` padded past any snippet, ending in a marker no message may reach.
std::string HtmlPage(const std::string& title) {
  std::string page = absl::StrCat("<!DOCTYPE html>\n<html>\n  <head><title>", title,
                                  "</title></head>\n  <body>\n    <h1>", title, "</h1>\n");
  for (int i = 0; i < 100; ++i) absl::StrAppend(&page, "    <p>Reference #", i, "</p>\n");
  return page + "    END-OF-PAGE\n  </body>\n</html>\n";
}

class PQ08HtmlInsteadOfJsonTest : public ProviderQuirksTest,
                                  public ::testing::WithParamInterface<HtmlRow> {
 protected:
  FaultStep Page() const {
    return FaultStep::Text(GetParam().status, GetParam().content_type, GetParam().body);
  }
};

TEST_P(PQ08HtmlInsteadOfJsonTest, IsReportedBrieflyNotCachedAndRetriedOnlyWhenTransient) {
  const HtmlRow& row = GetParam();
  FaultProvider& idp = StartProvider();
  idp.QueueToken(Page());
  idp.SetTokenDefault(Issue("tok-1"));
  StartDaemon({ClientEntry(kClient, idp.base_url())});

  absl::StatusOr<GetAccessTokenResponse> first = Token();
  absl::StatusOr<GetAccessTokenResponse> during_wait = Token();
  const ClientStatus after_failure = Status();
  // A transient failure's retry is due after 0.5 s; the call joins it or gets its token.
  scheduler_.Advance(absl::Seconds(5));
  absl::StatusOr<GetAccessTokenResponse> after_5s = Token();
  const int requests_after_5s = idp.TokenRequestCount();

  EXPECT_EQ(first.status().code(), row.code);
  const std::string message(first.status().message());
  EXPECT_THAT(message, HasSubstr(absl::StrCat("HTTP ", row.status, " (", row.content_type, ")")));
  EXPECT_THAT(message, HasSubstr("<html>"));
  const size_t snippet_start = message.find("): <!DOCTYPE") + 3;
  const size_t snippet_end = message.find("...", snippet_start);
  ASSERT_NE(snippet_end, std::string::npos) << message;
  EXPECT_LE(snippet_end - snippet_start, 200u) << "at most ~200 characters of the body";
  EXPECT_THAT(message, Not(HasSubstr("END-OF-PAGE")));
  EXPECT_EQ(during_wait.status().code(), row.code);
  EXPECT_THAT(during_wait.status().message(), HasSubstr("next attempt in"));
  EXPECT_FALSE(after_failure.has_signed_in()) << "nothing is cached from an HTML answer";
  EXPECT_EQ(after_failure.state(), v1::CLIENT_STATE_FAILING);
  if (row.transient) {
    EXPECT_EQ(requests_after_5s, 2) << "retried in the background after the backoff";
    ASSERT_TRUE(after_5s.ok()) << after_5s.status();
    EXPECT_EQ(after_5s->access_token(), "tok-1");
  } else {
    EXPECT_EQ(requests_after_5s, 1) << "a definitive answer is not retried in a loop";
    EXPECT_EQ(after_5s.status().code(), row.code) << "answered from the negative cache";
  }
}

TEST_P(PQ08HtmlInsteadOfJsonTest, StillValidTokenKeepsBeingServed) {
  FaultProvider& idp = StartProvider();
  idp.QueueToken(Issue("tok-1"));
  idp.SetTokenDefault(Page());
  StartDaemon({ClientEntry(kClient, idp.base_url())});
  ASSERT_TRUE(Token().ok());
  ASSERT_TRUE(Token().ok());  // In use since the fetch, so it is renewed.

  AdvanceToRenewal();  // At 72.5 % of 3600 s; the renewal gets the page.
  ASSERT_TRUE(log_.WaitFor("fetch_failed"));
  absl::StatusOr<GetAccessTokenResponse> served = Token();

  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_EQ(served->access_token(), "tok-1");
  EXPECT_EQ(idp.TokenRequestCount(), 2);
  EXPECT_EQ(Status().state(), v1::CLIENT_STATE_DEGRADED);
}

INSTANTIATE_TEST_SUITE_P(
    Answers, PQ08HtmlInsteadOfJsonTest,
    ::testing::Values(HtmlRow{"A_502BadGatewayPage", 502, "text/html", HtmlPage("502 Bad Gateway"),
                              absl::StatusCode::kUnavailable, true},
                      HtmlRow{"B_403HtmlLabelledJson", 403, "application/json",
                              HtmlPage("Access Denied"), absl::StatusCode::kFailedPrecondition,
                              false},
                      HtmlRow{"C_200SignInPage", 200, "text/html", HtmlPage("Sign in"),
                              absl::StatusCode::kUnavailable, false}),
    RowName<HtmlRow>);

// ---------------------------------------------------------------------------------------------
// PQ-09 error_description with control characters, quotes, accents, NUL, 20,000 characters or
// '+'-encoded text, in a 400 invalid_scope.

struct DescriptionRow {
  std::string name;
  // As a JSON string literal, escapes included.
  std::string json_description;
  // What the caller's message holds of it.
  std::string shown;
};

class PQ09ErrorDescriptionTest : public ProviderQuirksTest,
                                 public ::testing::WithParamInterface<DescriptionRow> {};

TEST_P(PQ09ErrorDescriptionTest, FailsWithoutRetryKeepingAnEscapedBoundedDescription) {
  FaultProvider& idp = StartProvider();
  idp.SetTokenDefault(
      FaultStep::Json(400, absl::StrCat(R"({"error":"invalid_scope","error_description":)",
                                        GetParam().json_description, "}")));
  StartDaemon({ClientEntry(kClient, idp.base_url())});

  RawCall first = CallRaw(kClient);
  const int failure_lines = log_.Count("fetch_failed");
  scheduler_.Advance(absl::Seconds(60));
  const int requests_after_60s = idp.TokenRequestCount();
  absl::StatusOr<GetAccessTokenResponse> later = Token();

  EXPECT_EQ(first.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  const std::string& message = first.status.error_message();
  EXPECT_THAT(message, HasSubstr("the provider rejected the token request: invalid_scope ("));
  EXPECT_THAT(message, HasSubstr(GetParam().shown));
  EXPECT_LE(message.size(), 1024u + 400u) << "the description is cut to about 1 KiB";
  EXPECT_FALSE(HasControlCharacter(message)) << absl::CHexEscape(message);
  for (const auto& [key, value] : first.metadata) {
    EXPECT_FALSE(HasControlCharacter(key) || HasControlCharacter(value)) << key;
  }
  EXPECT_EQ(failure_lines, 1) << "one failure, one line";
  EXPECT_EQ(requests_after_60s, 1) << "not retried while nobody asks";
  EXPECT_EQ(later.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(idp.TokenRequestCount(), 2) << "the negative cache ended after 10 s";
}

INSTANTIATE_TEST_SUITE_P(
    Descriptions, PQ09ErrorDescriptionTest,
    ::testing::Values(
        DescriptionRow{"CrLf", R"("scope\r\nX-Injected: yes\nnext")",
                       R"(scope\r\nX-Injected: yes\nnext)"},
        DescriptionRow{"Quotes", R"("say \"hi\" to 'them'")", R"(say "hi" to 'them')"},
        DescriptionRow{"Accent", R"("port\u00e9e inconnue: é")", "portée inconnue: é"},
        DescriptionRow{"Nul", R"("before\u0000after")", R"(before\x00after)"},
        DescriptionRow{"TwentyThousandCharacters",
                       absl::StrCat("\"", std::string(20000, 'x'), "\""), std::string(1000, 'x')},
        DescriptionRow{"PlusEncoded", R"("the+scope+api.write+is+not+allowed")",
                       "the+scope+api.write+is+not+allowed"}),
    RowName<DescriptionRow>);

// ---------------------------------------------------------------------------------------------
// PQ-10 Rejected credentials.

struct RejectionRow {
  std::string name;
  FaultStep answer;
};

class PQ10RejectedCredentialsTest : public ProviderQuirksTest,
                                    public ::testing::WithParamInterface<RejectionRow> {};

TEST_P(PQ10RejectedCredentialsTest, FailFastAndHundredCallsInTenSecondsMakeOneRequest) {
  FaultProvider& idp = StartProvider();
  idp.SetTokenDefault(GetParam().answer);
  StartDaemon({ClientEntry(kClient, idp.base_url())});

  absl::StatusOr<GetAccessTokenResponse> first = Token();
  const int requests_after_first = idp.TokenRequestCount();
  std::vector<absl::Status> later;
  for (int i = 1; i < 100; ++i) {
    scheduler_.Advance(absl::Milliseconds(100));
    later.push_back(Token().status());
  }

  EXPECT_EQ(first.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(requests_after_first, 1);
  for (const absl::Status& status : later) {
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(status.message(), HasSubstr("next attempt in"));
  }
  EXPECT_LE(idp.TokenRequestCount(), 2) << "a short, bounded negative cache";
  EXPECT_EQ(idp.TokenRequests()[0].Header("authorization"),
            "Basic " + absl::Base64Escape("client-a:s3cr3t"));
}

TEST_P(PQ10RejectedCredentialsTest, CallerIsToldTheCredentialsWereRejected) {
  FaultProvider& idp = StartProvider();
  idp.SetTokenDefault(GetParam().answer);
  StartDaemon({ClientEntry(kClient, idp.base_url())});

  absl::StatusOr<GetAccessTokenResponse> token = Token();

  EXPECT_EQ(token.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(token.status().message(),
              HasSubstr("the credentials of client_id \"client-a\" were rejected"));
}

INSTANTIATE_TEST_SUITE_P(
    Answers, PQ10RejectedCredentialsTest,
    ::testing::Values(
        RejectionRow{
            "Unauthorized401WithWwwAuthenticate",
            FaultStep::Json(401, R"({"error":"unauthorized","error_description":)"
                                 R"("Bad credentials"})")
                .WithHeader("WWW-Authenticate", R"(Basic realm="oauth", error="unauthorized")")},
        RejectionRow{"InvalidClient400", FaultStep::Json(400, R"({"error":"invalid_client"})")},
        RejectionRow{"Empty401", FaultStep::Text(401, "text/plain", "")}),
    RowName<RejectionRow>);

TEST_P(PQ10RejectedCredentialsTest, AfterASecretRotationTheNextCallGoesToTheProviderAtOnce) {
  FaultProvider& idp = StartProvider();
  idp.QueueToken(GetParam().answer);
  idp.SetTokenDefault(Issue("tok-1"));
  StartDaemon({ClientEntry(kClient, idp.base_url())});
  ASSERT_FALSE(Token().ok());
  secrets_.push_back("n3w-s3cr3t");
  std::ofstream(secret_file_, std::ios::trunc) << "n3w-s3cr3t\n";

  const int rotated = server_->CheckSecretsNow();
  absl::StatusOr<GetAccessTokenResponse> token = Token();

  EXPECT_EQ(rotated, 1);
  ASSERT_TRUE(token.ok()) << token.status() << " (the negative cache must not hold it)";
  EXPECT_EQ(token->access_token(), "tok-1");
  ASSERT_EQ(idp.TokenRequestCount(), 2);
  EXPECT_EQ(idp.TokenRequests()[1].Header("authorization"),
            "Basic " + absl::Base64Escape("client-a:n3w-s3cr3t"));
}

// ---------------------------------------------------------------------------------------------
// PQ-11 The first fetch times out or gets 503; later ones succeed.

struct FirstFailureRow {
  std::string name;
  FaultStep first_answer;
  std::string http_timeout;
  absl::Duration caller_timeout;
  absl::StatusCode first_code;
  std::string first_message;
};

class PQ11FirstFetchFailsTest : public ProviderQuirksTest,
                                public ::testing::WithParamInterface<FirstFailureRow> {};

TEST_P(PQ11FirstFetchFailsTest, NextCallAfterTheBackoffGetsTheToken) {
  const FirstFailureRow& row = GetParam();
  FaultProvider& idp = StartProvider();
  idp.QueueToken(row.first_answer);
  idp.SetTokenDefault(Issue("tok-1"));
  StartDaemon({ClientEntry(kClient, idp.base_url(),
                           absl::StrCat(R"(, "http": {"timeout": ")", row.http_timeout, "\"}"))});

  absl::StatusOr<GetAccessTokenResponse> first =
      Token(TokenOptions{.client = kClient, .timeout = row.caller_timeout});
  // A caller that gave up leaves the fetch running until the HTTP timeout.
  ASSERT_TRUE(log_.WaitFor("fetch_failed"));
  // The backoff of a first failure: a random share (0.5 here) of retry.base (1 s).
  scheduler_.Advance(absl::Milliseconds(400));
  absl::StatusOr<GetAccessTokenResponse> within_backoff = Token();
  const int requests_within_backoff = idp.TokenRequestCount();
  scheduler_.Advance(absl::Milliseconds(200));
  absl::StatusOr<GetAccessTokenResponse> after_backoff = Token();

  EXPECT_EQ(first.status().code(), row.first_code);
  EXPECT_THAT(first.status().message(), HasSubstr(row.first_message));
  EXPECT_EQ(within_backoff.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(within_backoff.status().message(), HasSubstr("next attempt in 1s"));
  EXPECT_EQ(requests_within_backoff, 1);
  ASSERT_TRUE(after_backoff.ok()) << after_backoff.status();
  EXPECT_EQ(after_backoff->access_token(), "tok-1");
  EXPECT_EQ(idp.TokenRequestCount(), 2);
}

INSTANTIATE_TEST_SUITE_P(
    Failures, PQ11FirstFetchFailsTest,
    ::testing::Values(
        FirstFailureRow{"HttpTimeout", FaultStep::Hang(), "500ms", absl::Seconds(10),
                        absl::StatusCode::kUnavailable,
                        "request to 127.0.0.1 failed: no complete answer within 500ms"},
        FirstFailureRow{"CallersDeadline", FaultStep::Hang(), "1s", absl::Milliseconds(300),
                        absl::StatusCode::kDeadlineExceeded, "Deadline Exceeded"},
        FirstFailureRow{"ServiceUnavailable503",
                        FaultStep::Text(503, "text/plain", "Service Unavailable"), "2s",
                        absl::Seconds(10), absl::StatusCode::kUnavailable,
                        "the provider is unavailable: HTTP 503 (text/plain): Service Unavailable"}),
    RowName<FirstFailureRow>);

// ---------------------------------------------------------------------------------------------
// PQ-12 429 and 503 with Retry-After.

// Stands for an HTTP date 121 s after the answer is sent, truncated to a whole second: a wait
// of 120 to 121 s.
constexpr char kDateIn121s[] = "<date in 121 s>";

struct ThrottleRow {
  std::string name;
  // Answers in turn, each followed by its quiet window.
  std::vector<FaultStep> answers;
  std::vector<absl::Duration> windows;
  std::string message;
};

std::vector<ThrottleRow> ThrottleRows() {
  return {
      ThrottleRow{
          "TooManyRequestsRetryAfter60",
          {FaultStep::Text(429, "text/plain", "Too Many Requests").WithHeader("Retry-After", "60")},
          {absl::Seconds(60)},
          "the provider is throttling requests: HTTP 429 (text/plain): Too Many Requests"},
      ThrottleRow{"TooManyRequestsRetryAfterHttpDate",
                  {FaultStep::Text(429, "text/plain", "Too Many Requests")
                       .WithHeader("Retry-After", kDateIn121s)},
                  {absl::Seconds(120)},
                  "the provider is throttling requests: HTTP 429"},
      ThrottleRow{"UnavailableInvalidThenHugeRetryAfter",
                  {FaultStep::Text(503, "text/plain", "Service Unavailable")
                       .WithHeader("Retry-After", "-1"),
                   FaultStep::Text(503, "text/plain", "Service Unavailable")
                       .WithHeader("Retry-After", "999999")},
                  // -1 falls back to the backoff (0.5 s); 999999 is capped at 5 minutes.
                  {absl::Milliseconds(500), absl::Minutes(5)},
                  "the provider is unavailable: HTTP 503 (text/plain): Service Unavailable"},
  };
}

class PQ12RetryAfterTest : public ProviderQuirksTest,
                           public ::testing::WithParamInterface<ThrottleRow> {
 protected:
  // A little before the end of `window`, and the step from there to a little after it.
  static absl::Duration Before(absl::Duration window) {
    return window - std::min(window / 10, absl::Seconds(1));
  }
  static absl::Duration Across(absl::Duration window) {
    return 2 * std::min(window / 10, absl::Seconds(1));
  }

  // The row's `index`th answer as sent at `sent_at` on the fake clock.
  FaultStep Answer(size_t index, absl::Time sent_at) const {
    FaultStep answer = GetParam().answers[index];
    for (auto& [name, value] : answer.headers) {
      if (value == kDateIn121s) value = HttpDate(sent_at + absl::Seconds(121));
    }
    return answer;
  }
};

TEST_P(PQ12RetryAfterTest, NoRequestUntilTheWaitEndsThenTheTokenArrives) {
  const ThrottleRow& row = GetParam();
  FaultProvider& idp = StartProvider();
  absl::Time sent_at = clock_.Now();
  for (size_t i = 0; i < row.answers.size(); ++i) {
    idp.QueueToken(Answer(i, sent_at));
    sent_at += row.windows[i] - Before(row.windows[i]) + Across(row.windows[i]);
  }
  idp.SetTokenDefault(Issue("tok-1"));
  StartDaemon({ClientEntry(kClient, idp.base_url())});

  for (size_t i = 0; i < row.answers.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("answer ", i));
    // The first call starts the fetch; later ones join the retry the scheduler just started.
    absl::StatusOr<GetAccessTokenResponse> failed = Token();
    ASSERT_EQ(idp.TokenRequestCount(), static_cast<int>(i) + 1);
    scheduler_.Advance(Before(row.windows[i]));
    absl::StatusOr<GetAccessTokenResponse> quiet = Token();

    EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_THAT(failed.status().message(), HasSubstr(row.message));
    EXPECT_THAT(failed.status().message(), Not(AnyOf(HasSubstr("not a token"), HasSubstr("JSON"))));
    EXPECT_EQ(quiet.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(idp.TokenRequestCount(), static_cast<int>(i) + 1) << "no request during the wait";

    scheduler_.Advance(Across(row.windows[i]));
  }
  absl::StatusOr<GetAccessTokenResponse> recovered = Token();

  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_EQ(recovered->access_token(), "tok-1");
  EXPECT_EQ(idp.TokenRequestCount(), static_cast<int>(row.answers.size()) + 1);
}

TEST_P(PQ12RetryAfterTest, StillValidTokenKeepsBeingServedDuringTheWait) {
  const ThrottleRow& row = GetParam();
  FaultProvider& idp = StartProvider();
  idp.QueueToken(Issue("tok-1"));
  idp.QueueToken(Answer(0, clock_.Now() + absl::Seconds(2610)));
  idp.SetTokenDefault(Issue("tok-2"));
  StartDaemon({ClientEntry(kClient, idp.base_url())});
  ASSERT_TRUE(Token().ok());
  ASSERT_TRUE(Token().ok());  // In use since the fetch, so it is renewed.

  AdvanceToRenewal();  // At 72.5 % of 3600 s; the renewal is throttled.
  ASSERT_TRUE(log_.WaitFor("fetch_failed"));
  scheduler_.Advance(Before(row.windows[0]));
  absl::StatusOr<GetAccessTokenResponse> during_wait = Token();
  const int requests_during_wait = idp.TokenRequestCount();
  scheduler_.Advance(Across(row.windows[0]));
  ASSERT_TRUE(log_.WaitFor("recovered"));
  absl::StatusOr<GetAccessTokenResponse> after_wait = Token();

  ASSERT_TRUE(during_wait.ok()) << during_wait.status();
  EXPECT_EQ(during_wait->access_token(), "tok-1");
  EXPECT_EQ(requests_during_wait, 2);
  ASSERT_TRUE(after_wait.ok()) << after_wait.status();
  EXPECT_EQ(after_wait->access_token(), "tok-2");
}

TEST_F(ProviderQuirksTest, PQ12_RetryAfterHoldsEveryRequestOfTheClient) {
  FaultProvider& idp = StartProvider();
  idp.QueueToken(
      FaultStep::Text(429, "text/plain", "Too Many Requests").WithHeader("Retry-After", "60"));
  idp.SetTokenDefault(Issue("tok-1"));
  StartDaemon({ClientEntry(kClient, idp.base_url())});

  absl::StatusOr<GetAccessTokenResponse> throttled = Token();
  absl::StatusOr<GetAccessTokenResponse> other_audience = Token(TokenOptions{
      .client = kClient, .audience = "https://api.example.test", .timeout = absl::Seconds(10)});

  EXPECT_EQ(throttled.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(other_audience.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(idp.TokenRequestCount(), 1);
}

INSTANTIATE_TEST_SUITE_P(Answers, PQ12RetryAfterTest, ::testing::ValuesIn(ThrottleRows()),
                         RowName<ThrottleRow>);

// ---------------------------------------------------------------------------------------------
// PQ-13 Hanging and trickling providers.

struct SlowRow {
  std::string name;
  absl::Duration trickle_interval;
};

class PQ13TricklingProviderTest : public ProviderQuirksTest,
                                  public ::testing::WithParamInterface<SlowRow> {};

TEST_P(PQ13TricklingProviderTest, EachRequestHasATotalDeadlineNotOnlyAnIdleTimeout) {
  FaultProvider& idp = StartProvider();
  FaultStep trickle = FaultStep::Json(200, std::string(10000, ' ') + R"({"access_token":"x"})");
  trickle.trickle_interval = GetParam().trickle_interval;
  idp.SetTokenDefault(trickle);
  StartDaemon({ClientEntry(kClient, idp.base_url(), R"(, "http": {"timeout": "1s"})")});

  const absl::Time start = absl::Now();
  absl::StatusOr<GetAccessTokenResponse> token = Token();
  const absl::Duration elapsed = absl::Now() - start;

  EXPECT_EQ(token.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(token.status().message(),
              HasSubstr("request to 127.0.0.1 failed: no complete answer within 1s"));
  EXPECT_LT(elapsed, absl::Milliseconds(1800));
  EXPECT_TRUE(idp.WaitForClosedConnections(2, kEventTimeout)) << "discovery and token";
}

INSTANTIATE_TEST_SUITE_P(Intervals, PQ13TricklingProviderTest,
                         ::testing::Values(SlowRow{"OneBytePer5s", absl::Seconds(5)},
                                           SlowRow{"OneBytePer50ms", absl::Milliseconds(50)}),
                         RowName<SlowRow>);

TEST_F(ProviderQuirksTest, PQ13_HundredCallersOfHungProvidersAreAnsweredByTheirDeadlines) {
  FaultProvider& hung = StartProvider();
  hung.SetDiscoveryDefault(FaultStep::Hang());
  hung.SetTokenDefault(FaultStep::Hang());
  FaultProvider& trickling = StartProvider();
  FaultStep trickle = FaultStep::Json(200, std::string(100, ' ') + "{}");
  trickle.trickle_interval = absl::Seconds(5);
  trickling.SetDiscoveryDefault(trickle);
  FaultProvider& healthy = StartProvider();
  healthy.SetTokenDefault(Issue("tok-healthy"));
  // Ten clients on each bad provider, each its own tenant (issuer).
  std::vector<std::string> clients = {ClientEntry("healthy", healthy.base_url())};
  std::vector<std::string> bad_clients;
  for (int i = 0; i < 10; ++i) {
    for (auto [prefix, provider] : {std::pair{"hung-", &hung}, std::pair{"slow-", &trickling}}) {
      const std::string name = absl::StrCat(prefix, i);
      bad_clients.push_back(name);
      clients.push_back(ClientEntry(name, absl::StrCat(provider->base_url(), "/tenant-", i),
                                    R"(, "http": {"timeout": "1s"})"));
    }
  }
  StartDaemon(clients);
  ASSERT_TRUE(Token("healthy").ok());

  constexpr int kCallers = 100;
  std::vector<absl::Status> results(kCallers);
  std::vector<absl::Duration> waits(kCallers);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      const absl::Time start = absl::Now();
      results[i] = Token(TokenOptions{.client = bad_clients[i % bad_clients.size()],
                                      .timeout = absl::Seconds(2)})
                       .status();
      waits[i] = absl::Now() - start;
    });
  }
  ASSERT_TRUE(hung.WaitForRequests(1, kEventTimeout));
  ASSERT_TRUE(trickling.WaitForRequests(1, kEventTimeout));
  const absl::Time start = absl::Now();
  absl::StatusOr<GetAccessTokenResponse> cached = Token("healthy");
  const absl::Duration cached_wait = absl::Now() - start;
  for (std::thread& caller : callers) caller.join();

  ASSERT_TRUE(cached.ok()) << cached.status();
  EXPECT_EQ(cached->access_token(), "tok-healthy");
  EXPECT_LT(cached_wait, absl::Milliseconds(250)) << "a cached token never waits for a fetch";
  for (int i = 0; i < kCallers; ++i) {
    EXPECT_THAT(results[i].code(),
                AnyOf(absl::StatusCode::kDeadlineExceeded, absl::StatusCode::kUnavailable))
        << results[i];
    EXPECT_LT(waits[i], absl::Milliseconds(2300)) << "caller " << i;
  }
  EXPECT_EQ(healthy.TokenRequestCount(), 1);
}

TEST_F(ProviderQuirksTest, PQ13_ClientsOfOneHungIssuerShareOneDiscoveryTimeout) {
  FaultProvider& hung = StartProvider();
  hung.SetDiscoveryDefault(FaultStep::Hang());
  std::vector<std::string> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(ClientEntry(absl::StrCat("tenant-", i), hung.base_url(),
                                  R"(, "http": {"timeout": "500ms"})"));
  }
  StartDaemon(clients);

  std::vector<absl::Status> results(clients.size());
  std::vector<absl::Duration> waits(clients.size());
  std::vector<std::thread> callers;
  for (size_t i = 0; i < clients.size(); ++i) {
    callers.emplace_back([&, i] {
      const absl::Time start = absl::Now();
      results[i] = Token(absl::StrCat("tenant-", i)).status();
      waits[i] = absl::Now() - start;
    });
  }
  for (std::thread& caller : callers) caller.join();

  for (size_t i = 0; i < clients.size(); ++i) {
    EXPECT_EQ(results[i].code(), absl::StatusCode::kUnavailable) << results[i];
    EXPECT_LT(waits[i], absl::Milliseconds(1200)) << "tenant-" << i;
  }
  EXPECT_EQ(hung.Requests().size(), 1u) << "one discovery attempt for the issuer";
}

// ---------------------------------------------------------------------------------------------
// PQ-14 gzip answers, an encoding that was not offered, a compression bomb.

enum class TokenEncoding { kGzip, kBrotli, kGzipBomb };

struct EncodingRow {
  std::string name;
  bool gzip_discovery;
  TokenEncoding token_encoding;
  // Empty: the call succeeds.
  std::string error;
};

FaultStep Gzipped(FaultStep step) {
  step.gzip = true;
  return step;
}

FaultStep EncodedToken(TokenEncoding encoding) {
  switch (encoding) {
    case TokenEncoding::kGzip:
      return Gzipped(FaultStep::Token("tok-gzip"));
    case TokenEncoding::kBrotli:
      return FaultStep::Json(200, testing::BrotliStored(FaultStep::Token("tok-gzip").body))
          .WithHeader("Content-Encoding", "br");
    case TokenEncoding::kGzipBomb:
      // 128 MiB of zeros, about 128 KiB on the wire.
      return FaultStep::Json(200, testing::GzipOfZeros(size_t{128} << 20))
          .WithHeader("Content-Encoding", "gzip");
  }
  return FaultStep();
}

class PQ14ContentEncodingTest : public ProviderQuirksTest,
                                public ::testing::WithParamInterface<EncodingRow> {};

TEST_P(PQ14ContentEncodingTest, GzipIsDecodedOtherCodingsAndBombsAreRefused) {
  const EncodingRow& row = GetParam();
  Remember("tok-gzip");
  FaultProvider& idp = StartProvider();
  if (row.gzip_discovery)
    idp.QueueDiscovery(Gzipped(FaultStep::Json(200, idp.DiscoveryDocument())));
  idp.QueueToken(EncodedToken(row.token_encoding));
  StartDaemon({ClientEntry(kClient, idp.base_url())});
  const size_t memory_before = MaxResidentBytes();

  absl::StatusOr<GetAccessTokenResponse> token = Token();

  const std::vector<RecordedRequest> requests = idp.Requests();
  ASSERT_EQ(requests.size(), 2u);
  for (const RecordedRequest& request : requests) {
    EXPECT_EQ(request.Header("accept-encoding"), "gzip, deflate") << request.path;
  }
  if (row.error.empty()) {
    ASSERT_TRUE(token.ok()) << token.status();
    EXPECT_EQ(token->access_token(), "tok-gzip");
  } else {
    EXPECT_EQ(token.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_THAT(token.status().message(), HasSubstr(row.error));
    EXPECT_FALSE(Status().has_signed_in());
  }
  EXPECT_LT(MaxResidentBytes() - memory_before, size_t{64} << 20) << "never inflated in memory";
}

INSTANTIATE_TEST_SUITE_P(
    Encodings, PQ14ContentEncodingTest,
    ::testing::Values(EncodingRow{"GzipTokenAnswer", false, TokenEncoding::kGzip, ""},
                      EncodingRow{"GzipDiscoveryAndTokenAnswers", true, TokenEncoding::kGzip, ""},
                      EncodingRow{
                          "BrotliWhenNotOffered", false, TokenEncoding::kBrotli,
                          "response from 127.0.0.1 is encoded as \"br\", which was not offered "
                          "(gzip, deflate)"},
                      EncodingRow{"GzipBombPastTheCap", false, TokenEncoding::kGzipBomb,
                                  "response from 127.0.0.1 is larger than 1048576 bytes"}),
    RowName<EncodingRow>);

// ---------------------------------------------------------------------------------------------
// PQ-15 Request framing and chunked answers.

TEST_F(ProviderQuirksTest, PQ15_TokenRequestsAlwaysCarryContentLength) {
  FaultProvider& idp = StartProvider();
  idp.SetTokenDefault(Issue("tok-1"));
  StartDaemon({ClientEntry("basic", idp.base_url()),
               ClientEntry("post", idp.base_url(), R"(, "auth_method": "client_secret_post",
                           "scopes": ["api.read", "api.write"])")});

  ASSERT_TRUE(Token("basic").ok());
  ASSERT_TRUE(Token("post").ok());

  const std::vector<RecordedRequest> requests = idp.TokenRequests();
  ASSERT_EQ(requests.size(), 2u);
  for (const RecordedRequest& request : requests) {
    EXPECT_EQ(request.method, "POST");
    EXPECT_EQ(request.Header("content-length"), absl::StrCat(request.body.size()));
    EXPECT_EQ(request.Header("transfer-encoding"), std::nullopt);
  }
  EXPECT_EQ(requests[1].body,
            "grant_type=client_credentials&scope=api.read+api.write&client_id=client-a&"
            "client_secret=s3cr3t");
}

struct ChunkedRow {
  std::string name;
  // Offsets into the token value where chunks end.
  std::vector<size_t> splits_in_token;
  // Where the stream is cut, relative to the token value's start; nullopt: not cut. A value past
  // the body's end cuts only the last chunk.
  std::optional<size_t> cut_in_token;
};

constexpr char kChunkedToken[] = "tok-chunked-0123456789abcdef";

class PQ15ChunkedAnswerTest : public ProviderQuirksTest,
                              public ::testing::WithParamInterface<ChunkedRow> {};

TEST_P(PQ15ChunkedAnswerTest, IsReassembledExactlyOrIsAnErrorWhenCut) {
  const ChunkedRow& row = GetParam();
  FaultProvider& idp = StartProvider();
  FaultStep answer = Issue(kChunkedToken);
  const size_t token_at = answer.body.find(kChunkedToken);
  answer.chunked = true;
  for (size_t split : row.splits_in_token) answer.chunk_splits.push_back(token_at + split);
  if (row.cut_in_token)
    answer.truncate_at = std::min(token_at + *row.cut_in_token, answer.body.size());
  idp.QueueToken(answer);
  StartDaemon({ClientEntry(kClient, idp.base_url())});

  absl::StatusOr<GetAccessTokenResponse> token = Token();

  if (!row.cut_in_token) {
    ASSERT_TRUE(token.ok()) << token.status();
    EXPECT_EQ(token->access_token(), kChunkedToken);
    return;
  }
  EXPECT_EQ(token.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(token.status().message(), HasSubstr("token request to 127.0.0.1: request to "
                                                  "127.0.0.1 failed: "));
  EXPECT_THAT(token.status().message(), Not(HasSubstr("tok-chunked")));
  EXPECT_FALSE(Status().has_signed_in()) << "never a partial token";
}

INSTANTIATE_TEST_SUITE_P(
    Chunks, PQ15ChunkedAnswerTest,
    ::testing::Values(ChunkedRow{"SplitInsideTheToken", {3, 4, 11, 20}, std::nullopt},
                      ChunkedRow{"OneChunkPerByteOfTheToken",
                                 {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14,
                                  15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27},
                                 std::nullopt},
                      ChunkedRow{"CutInsideTheToken", {4, 11}, 15},
                      ChunkedRow{"CutBeforeTheLastChunk", {4, 11}, 10000}),
    RowName<ChunkedRow>);

TEST_F(ProviderQuirksTest, PQ15_BodyCutShortOfItsContentLengthIsAnError) {
  FaultProvider& idp = StartProvider();
  FaultStep answer = Issue("tok-cut-0123456789");
  answer.truncate_at = answer.body.find("0123");
  idp.QueueToken(answer);
  StartDaemon({ClientEntry(kClient, idp.base_url())});

  absl::StatusOr<GetAccessTokenResponse> token = Token();

  EXPECT_EQ(token.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(token.status().message(), Not(HasSubstr("tok-cut")));
  EXPECT_FALSE(Status().has_signed_in());
}

// ---------------------------------------------------------------------------------------------
// PQ-16 Redirects from the token endpoint.

struct RedirectRow {
  std::string name;
  int status;
  // "same": the provider itself on another path; "http": a plain-http provider; "other": a
  // provider on another host name.
  std::string target;
};

class PQ16RedirectTest : public ProviderQuirksTest,
                         public ::testing::WithParamInterface<RedirectRow> {};

TEST_P(PQ16RedirectTest, IsRefusedQuotingLocationAndNothingIsSentThere) {
  const RedirectRow& row = GetParam();
  FaultProvider& idp = StartTlsProvider();
  FaultProvider& plain = StartProvider();
  FaultProvider& other = StartTlsProvider("localhost");
  const std::string location = row.target == "same"   ? idp.base_url() + "/moved/token"
                               : row.target == "http" ? plain.base_url() + "/token"
                                                      : other.base_url() + "/token";
  idp.SetTokenDefault(FaultStep::Redirect(row.status, location));
  StartDaemon(
      {ClientEntry(kClient, idp.base_url(),
                   absl::StrCat(R"(, "http": {"ca_file": ")", Pki().issuer_ca_file, "\"}"))});

  absl::StatusOr<GetAccessTokenResponse> token = Token();
  scheduler_.Advance(absl::Seconds(60));

  EXPECT_EQ(token.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(token.status().message(),
              HasSubstr(absl::StrCat("the token endpoint answered HTTP ", row.status,
                                     " redirecting to \"", location, "\"")));
  const std::vector<RecordedRequest> token_requests = idp.TokenRequests();
  ASSERT_EQ(token_requests.size(), 1u) << "not followed, not retried in a loop";
  EXPECT_EQ(token_requests[0].method, "POST");
  EXPECT_EQ(token_requests[0].path, "/token");
  EXPECT_EQ(plain.Connections(), 0);
  EXPECT_EQ(other.Connections(), 0);
}

INSTANTIATE_TEST_SUITE_P(Redirects, PQ16RedirectTest,
                         ::testing::Values(RedirectRow{"MovedPermanently301", 301, "same"},
                                           RedirectRow{"Temporary307ToPlainHttp", 307, "http"},
                                           RedirectRow{"Permanent308ToAnotherHost", 308, "other"}),
                         RowName<RedirectRow>);

// ---------------------------------------------------------------------------------------------
// PQ-17 Proxies from the environment.

struct ProxyRow {
  std::string name;
  std::string variable;
  // user:password@ to put in the proxy URL, or empty.
  std::string credentials;
  // The proxy's answer to CONNECT when it refuses; 0 tunnels.
  int refuse_with;
};

class PQ17ProxyTest : public ProviderQuirksTest, public ::testing::WithParamInterface<ProxyRow> {};

TEST_P(PQ17ProxyTest, ProxyFromTheEnvironmentIsUsedOrNamedWhenItRefuses) {
  const ProxyRow& row = GetParam();
  // Reached as https://idp.example.test, a name only the proxy resolves.
  FaultProvider& idp = StartTlsProvider("idp.example.test", /*omit_port_in_url=*/true);
  idp.SetTokenDefault(Issue("tok-1"));
  ConnectProxy& proxy =
      StartProxy({.routes = {{"idp.example.test", idp.port()}}, .refuse_with = row.refuse_with});
  const std::string proxy_address = absl::StrCat("127.0.0.1:", proxy.port());
  SetEnv(row.variable, absl::StrCat("http://", row.credentials, proxy_address));
  if (!row.credentials.empty()) {
    const std::string password = row.credentials.substr(row.credentials.find(':') + 1);
    secrets_.push_back(password.substr(0, password.find_first_of("%@")));
  }
  StartDaemon(
      {ClientEntry(kClient, "https://idp.example.test",
                   absl::StrCat(R"(, "http": {"ca_file": ")", Pki().issuer_ca_file, "\"}"))});

  absl::StatusOr<GetAccessTokenResponse> token = Token();

  const std::vector<ConnectProxy::Request> tunnels = proxy.Requests();
  ASSERT_FALSE(tunnels.empty());
  EXPECT_EQ(tunnels[0].request_line, "CONNECT idp.example.test:443 HTTP/1.1");
  if (row.credentials.empty()) {
    EXPECT_EQ(tunnels[0].Header("proxy-authorization"), std::nullopt);
  } else {
    EXPECT_EQ(tunnels[0].Header("proxy-authorization"),
              "Basic " + absl::Base64Escape(
                             absl::StrReplaceAll(row.credentials, {{"%20", " "}, {"@", ""}})));
  }
  if (row.refuse_with == 0) {
    ASSERT_TRUE(token.ok()) << token.status();
    EXPECT_EQ(token->access_token(), "tok-1");
    EXPECT_EQ(tunnels.size(), 2u) << "discovery and token, each through the proxy";
    EXPECT_EQ(idp.TokenRequests()[0].Header("host"), "idp.example.test");
  } else {
    EXPECT_EQ(token.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_THAT(
        token.status().message(),
        HasSubstr(absl::StrCat("request to idp.example.test failed: the proxy at ", proxy_address,
                               " answered HTTP ", row.refuse_with, " to CONNECT")));
    EXPECT_EQ(idp.Connections(), 0);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Proxies, PQ17ProxyTest,
    ::testing::Values(ProxyRow{"LowerCaseHttpsProxy", "https_proxy", "", 0},
                      ProxyRow{"UpperCaseHttpsProxy", "HTTPS_PROXY", "", 0},
                      ProxyRow{"CredentialsInTheUrl", "https_proxy", "agent:pr0xy%20pw@", 0},
                      ProxyRow{"ProxyAnswers407", "https_proxy", "agent:wr0ng-pw@", 407},
                      ProxyRow{"ProxyAnswers502", "https_proxy", "", 502}),
    RowName<ProxyRow>);

TEST_F(ProviderQuirksTest, PQ17_HostsMatchingNoProxyGoDirect) {
  FaultProvider& proxied = StartTlsProvider("idp.example.test", /*omit_port_in_url=*/true);
  proxied.SetTokenDefault(Issue("tok-proxied"));
  FaultProvider& direct = StartTlsProvider("localhost");
  direct.SetTokenDefault(Issue("tok-direct"));
  ConnectProxy& proxy = StartProxy({.routes = {{"idp.example.test", proxied.port()}}});
  SetEnv("https_proxy", proxy.url());
  SetEnv("NO_PROXY", "localhost,127.0.0.1");
  const std::string ca = absl::StrCat(R"(, "http": {"ca_file": ")", Pki().issuer_ca_file, "\"}");
  StartDaemon({ClientEntry("via-proxy", "https://idp.example.test", ca),
               ClientEntry("direct", direct.base_url(), ca)});

  absl::StatusOr<GetAccessTokenResponse> via_proxy = Token("via-proxy");
  absl::StatusOr<GetAccessTokenResponse> direct_token = Token("direct");

  ASSERT_TRUE(via_proxy.ok()) << via_proxy.status();
  ASSERT_TRUE(direct_token.ok()) << direct_token.status();
  EXPECT_EQ(direct_token->access_token(), "tok-direct");
  for (const ConnectProxy::Request& request : proxy.Requests()) {
    EXPECT_EQ(request.request_line, "CONNECT idp.example.test:443 HTTP/1.1");
  }
  EXPECT_EQ(proxy.Requests().size(), 2u);
  EXPECT_EQ(direct.TokenRequestCount(), 1);
}

// ---------------------------------------------------------------------------------------------
// PQ-18 A token endpoint on another host, behind a private CA; plain http.

class PQ18PrivateCaTest : public ProviderQuirksTest {
 protected:
  // The issuer on 127.0.0.1 (issuer CA), whose discovery names a token endpoint on localhost
  // with a certificate of the private CA.
  void StartProviders() {
    issuer_ = &StartTlsProvider("127.0.0.1");
    token_host_ = &StartProvider({.tls_certificate_file = Pki().private_token_host.certificate_file,
                                  .tls_key_file = Pki().private_token_host.key_file,
                                  .host = "localhost"});
    issuer_->SetDiscovery(issuer_->base_url(), token_host_->base_url() + "/token");
    issuer_->SetTokenDefault(Issue("tok-wrong-host"));
    token_host_->SetTokenDefault(Issue("tok-1"));
  }

  std::string WithCaFile(const std::string& ca_file, const std::string& extra = "") const {
    return absl::StrCat(R"(, "http": {"ca_file": ")", ca_file, "\"}", extra);
  }

  FaultProvider* issuer_ = nullptr;
  FaultProvider* token_host_ = nullptr;
};

TEST_F(PQ18PrivateCaTest, TokenHostVerifiedWithTheConfiguredCaBundle) {
  StartProviders();
  StartDaemon({ClientEntry(kClient, issuer_->base_url(), WithCaFile(Pki().both_cas_file))});

  absl::StatusOr<GetAccessTokenResponse> token = Token();

  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->access_token(), "tok-1");
  EXPECT_EQ(issuer_->TokenRequestCount(), 0);
}

TEST_F(PQ18PrivateCaTest, WithoutItsCaTheTokenHostIsNamedAndReceivesNothing) {
  StartProviders();
  StartDaemon({ClientEntry(kClient, issuer_->base_url(), WithCaFile(Pki().issuer_ca_file))});

  absl::StatusOr<GetAccessTokenResponse> token = Token();

  EXPECT_EQ(token.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(token.status().message(),
              HasSubstr("token request to localhost: request to localhost failed: SSL "
                        "certificate problem: "));
  ASSERT_TRUE(token_host_->WaitForClosedConnections(1, kEventTimeout));
  EXPECT_GE(token_host_->FailedHandshakes(), 1) << "verified, and the handshake was abandoned";
  EXPECT_EQ(token_host_->Requests().size(), 0u) << "no request, so no secret, went there";
  EXPECT_EQ(issuer_->TokenRequestCount(), 0);
}

TEST_F(PQ18PrivateCaTest, WithTheSystemCasTheIssuerIsNamed) {
  StartProviders();
  StartDaemon({ClientEntry(kClient, issuer_->base_url())});

  absl::StatusOr<GetAccessTokenResponse> token = Token();

  EXPECT_EQ(token.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(token.status().message(),
              HasSubstr(absl::StrCat("discovery at ", issuer_->base_url(),
                                     "/.well-known/openid-configuration: request to 127.0.0.1 "
                                     "failed: SSL certificate problem")));
  EXPECT_EQ(issuer_->Requests().size(), 0u);
  EXPECT_EQ(token_host_->Connections(), 0);
}

TEST_F(PQ18PrivateCaTest, ConfiguredTokenEndpointOverridesTheDiscoveredOne) {
  StartProviders();
  FaultProvider& configured = StartTlsProvider("localhost");
  configured.SetTokenDefault(Issue("tok-configured"));
  StartDaemon({ClientEntry(
      kClient, issuer_->base_url(),
      WithCaFile(Pki().both_cas_file,
                 absl::StrCat(R"(, "token_endpoint": ")", configured.base_url(), "/token\"")))});

  absl::StatusOr<GetAccessTokenResponse> token = Token();

  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->access_token(), "tok-configured");
  EXPECT_EQ(token_host_->Connections(), 0) << "the discovered endpoint receives nothing";
}

struct PlainHttpRow {
  std::string name;
  bool allow_insecure_http;
  // Empty: the token arrives through plain http.
  std::string error;
};

class PQ18PlainHttpTest : public PQ18PrivateCaTest,
                          public ::testing::WithParamInterface<PlainHttpRow> {};

TEST_P(PQ18PlainHttpTest, DiscoveredPlainHttpEndpointOnlyWhereExplicitlyAllowed) {
  const PlainHttpRow& row = GetParam();
  FaultProvider& issuer = StartTlsProvider("127.0.0.1");
  FaultProvider& plain = StartProvider();
  plain.SetTokenDefault(Issue("tok-plain"));
  issuer.SetDiscovery(issuer.base_url(), "http://tokens.example.test/token");
  // Plain http to tokens.example.test can only go to this proxy, which records what would have
  // left the machine.
  ConnectProxy& proxy = StartProxy({.routes = {{"tokens.example.test", plain.port()}}});
  SetEnv("http_proxy", proxy.url());
  StartDaemon({ClientEntry(
      kClient, issuer.base_url(),
      WithCaFile(Pki().issuer_ca_file, absl::StrCat(R"(, "allow_insecure_http": )",
                                                    row.allow_insecure_http ? "true" : "false")))});

  absl::StatusOr<GetAccessTokenResponse> token = Token();

  if (row.error.empty()) {
    ASSERT_TRUE(token.ok()) << token.status();
    EXPECT_EQ(token->access_token(), "tok-plain");
    ASSERT_EQ(proxy.Requests().size(), 1u);
    EXPECT_EQ(proxy.Requests()[0].request_line, "POST http://tokens.example.test/token HTTP/1.1");
    return;
  }
  EXPECT_EQ(token.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(token.status().message(), HasSubstr(row.error));
  EXPECT_EQ(proxy.Requests().size(), 0u) << "the secret never went to an http:// endpoint";
  EXPECT_EQ(plain.Connections(), 0);
}

INSTANTIATE_TEST_SUITE_P(
    Settings, PQ18PlainHttpTest,
    ::testing::Values(PlainHttpRow{"Refused", false,
                                   "the token endpoint \"http://tokens.example.test/token\" is "
                                   "plain http; refusing to send the client secret there"},
                      PlainHttpRow{"ExplicitlyAllowed", true, ""}),
    RowName<PlainHttpRow>);

TEST_F(ProviderQuirksTest, PQ18_ConfiguredPlainHttpIsAnErrorExceptOnLoopbackOrWhenAllowed) {
  const std::vector<std::pair<std::string, bool>> cases = {
      {ClientEntry(kClient, "http://idp.example.test"), false},
      {ClientEntry(kClient, "https://idp.example.test",
                   R"(, "token_endpoint": "http://tokens.example.test/token")"),
       false},
      {ClientEntry(kClient, "http://idp.example.test", R"(, "allow_insecure_http": true)"), true},
      {ClientEntry(kClient, "http://127.0.0.1:9"), true},
      {ClientEntry(kClient, "http://localhost:9"), true},
  };
  for (const auto& [entry, valid] : cases) {
    SCOPED_TRACE(entry);

    absl::StatusOr<Config> config = ParseConfig(ConfigText({entry}), SecretSources::Real());

    EXPECT_EQ(config.ok(), valid) << config.status();
    if (!valid) {
      EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(config.status().message(),
                  HasSubstr("uses plain http to a host other than loopback, which would send "
                            "the client secret unencrypted; use https or set "
                            "allow_insecure_http"));
    }
  }
}

}  // namespace
}  // namespace agentauth
