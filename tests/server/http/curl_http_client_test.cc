// CurlHttpClient against a fault-injecting provider on loopback: framing, encodings, size caps,
// deadlines, redirects and proxies as real providers and networks produce them.
#include "server/http/curl_http_client.h"

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fault_provider.h"
#include "tests/testing/status_printing.h"
#include "tests/testing/temp_dir.h"

namespace agentauth {
namespace {

using testing::ConnectProxy;
using testing::FaultProvider;
using testing::FaultStep;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::ScopedEnv;
using testing::TestCertificateAuthority;

constexpr char kTokenBody[] = R"({"access_token":"tok-1","token_type":"Bearer","expires_in":3600})";

class CurlHttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<FaultProvider>> provider = FaultProvider::Start({});
    ASSERT_TRUE(provider.ok()) << provider.status();
    provider_ = *std::move(provider);
  }

  HttpRequest TokenPost() const {
    HttpRequest request;
    request.method = HttpRequest::Method::kPost;
    request.url = provider_->base_url() + "/token";
    request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
    request.body = "grant_type=client_credentials&scope=api.read";
    request.timeout = absl::Seconds(5);
    return request;
  }

  // No proxy from the machine's environment may take these requests elsewhere.
  std::vector<std::unique_ptr<ScopedEnv>> no_proxies_ = ScopedEnv::WithoutProxies();
  std::unique_ptr<FaultProvider> provider_;
  CurlHttpClient http_;
};

TEST_F(CurlHttpClientTest, PostCarriesContentLengthAndIsNeverChunked) {
  provider_->QueueToken(FaultStep::Json(200, kTokenBody));

  absl::StatusOr<HttpResponse> response = http_.Send(TokenPost());

  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(provider_->TokenRequests().size(), 1u);
  const testing::RecordedRequest request = provider_->TokenRequests()[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.Header("content-length"), absl::StrCat(TokenPost().body.size()));
  EXPECT_EQ(request.Header("transfer-encoding"), std::nullopt);
  EXPECT_EQ(request.body, TokenPost().body);
}

TEST_F(CurlHttpClientTest, GzipBodyIsDecoded) {
  FaultStep step = FaultStep::Json(200, kTokenBody);
  step.gzip = true;
  provider_->QueueToken(step);

  absl::StatusOr<HttpResponse> response = http_.Send(TokenPost());

  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, kTokenBody);
  EXPECT_EQ(provider_->TokenRequests()[0].Header("accept-encoding"), "gzip, deflate");
}

TEST_F(CurlHttpClientTest, EncodingThatWasNotOfferedIsAClearError) {
  provider_->QueueToken(
      FaultStep::Json(200, testing::BrotliStored(kTokenBody)).WithHeader("Content-Encoding", "br"));

  absl::StatusOr<HttpResponse> response = http_.Send(TokenPost());

  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(response.status().message(),
            "response from 127.0.0.1 is encoded as \"br\", which was not offered (gzip, deflate)");
}

TEST_F(CurlHttpClientTest, GzipBombIsCutAtTheSizeCap) {
  provider_->QueueToken(FaultStep::Json(200, testing::GzipOfZeros(size_t{64} << 20))
                            .WithHeader("Content-Encoding", "gzip"));
  HttpRequest request = TokenPost();
  request.max_response_bytes = 1 << 20;

  absl::StatusOr<HttpResponse> response = http_.Send(request);

  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(response.status().message(), "response from 127.0.0.1 is larger than 1048576 bytes");
}

TEST_F(CurlHttpClientTest, ChunksSplitInsideAValueAreReassembledExactly) {
  FaultStep step = FaultStep::Json(200, kTokenBody);
  step.chunked = true;
  const size_t token_at = std::string(kTokenBody).find("tok-1");
  step.chunk_splits = {1, token_at + 1, token_at + 2, token_at + 4};
  provider_->QueueToken(step);

  absl::StatusOr<HttpResponse> response = http_.Send(TokenPost());

  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, kTokenBody);
}

TEST_F(CurlHttpClientTest, ChunkedBodyWithoutItsLastChunkIsAnError) {
  FaultStep step = FaultStep::Json(200, kTokenBody);
  step.chunked = true;
  step.chunk_splits = {10};
  step.truncate_at = std::string(kTokenBody).size();
  provider_->QueueToken(step);

  absl::StatusOr<HttpResponse> response = http_.Send(TokenPost());

  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(response.status().message(), HasSubstr("request to 127.0.0.1 failed: "));
}

TEST_F(CurlHttpClientTest, BodyShorterThanContentLengthIsAnError) {
  FaultStep step = FaultStep::Json(200, kTokenBody);
  step.truncate_at = 20;
  provider_->QueueToken(step);

  absl::StatusOr<HttpResponse> response = http_.Send(TokenPost());

  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(response.status().message(), HasSubstr("request to 127.0.0.1 failed: "));
}

TEST_F(CurlHttpClientTest, TricklingAnswerIsCutByTheTotalTimeout) {
  FaultStep step = FaultStep::Json(200, std::string(10000, ' ') + kTokenBody);
  step.trickle_interval = absl::Milliseconds(20);  // Never idle long, but 200 s in total.
  provider_->QueueToken(step);
  HttpRequest request = TokenPost();
  request.timeout = absl::Milliseconds(500);

  const absl::Time start = absl::Now();
  absl::StatusOr<HttpResponse> response = http_.Send(request);
  const absl::Duration elapsed = absl::Now() - start;

  EXPECT_EQ(response.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(response.status().message(),
            "request to 127.0.0.1 failed: no complete answer within 500ms");
  EXPECT_LT(elapsed, absl::Milliseconds(1500));
}

TEST_F(CurlHttpClientTest, RedirectIsReturnedAndNotFollowed) {
  provider_->QueueToken(FaultStep::Redirect(307, provider_->base_url() + "/elsewhere/token"));

  absl::StatusOr<HttpResponse> response = http_.Send(TokenPost());

  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 307);
  EXPECT_EQ(response->Header("location"), provider_->base_url() + "/elsewhere/token");
  EXPECT_EQ(provider_->Requests().size(), 1u);
}

// Requests through an HTTPS proxy from the environment, to a made-up host name the proxy maps
// to the TLS provider on loopback.
class CurlHttpClientProxyTest : public CurlHttpClientTest {
 protected:
  static void SetUpTestSuite() {
    pki_dir_ = new testing::TempDir();
    absl::StatusOr<TestCertificateAuthority> ca =
        TestCertificateAuthority::Create(pki_dir_->path(), "a");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_file_ = new std::string(ca->certificate_file());
    absl::StatusOr<TestCertificateAuthority::ServerCertificate> server =
        ca->Issue("idp", {"idp.example.test"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_certificate_ = new TestCertificateAuthority::ServerCertificate(*server);
  }

  static void TearDownTestSuite() {
    delete pki_dir_;
    delete ca_file_;
    delete server_certificate_;
  }

  void SetUp() override {
    absl::StatusOr<std::unique_ptr<FaultProvider>> provider =
        FaultProvider::Start({.tls_certificate_file = server_certificate_->certificate_file,
                              .tls_key_file = server_certificate_->key_file,
                              .host = "idp.example.test"});
    ASSERT_TRUE(provider.ok()) << provider.status();
    provider_ = *std::move(provider);
  }

  void StartProxy(int refuse_with) {
    absl::StatusOr<std::unique_ptr<ConnectProxy>> proxy = ConnectProxy::Start(
        {.routes = {{"idp.example.test", provider_->port()}}, .refuse_with = refuse_with});
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = *std::move(proxy);
  }

  HttpRequest ThroughProxy() const {
    HttpRequest request = TokenPost();
    request.url = "https://idp.example.test/token";
    request.ca_file = *ca_file_;
    return request;
  }

  static testing::TempDir* pki_dir_;
  static std::string* ca_file_;
  static TestCertificateAuthority::ServerCertificate* server_certificate_;
  std::unique_ptr<ConnectProxy> proxy_;
};

testing::TempDir* CurlHttpClientProxyTest::pki_dir_ = nullptr;
std::string* CurlHttpClientProxyTest::ca_file_ = nullptr;
TestCertificateAuthority::ServerCertificate* CurlHttpClientProxyTest::server_certificate_ = nullptr;

TEST_F(CurlHttpClientProxyTest, TunnelsThroughTheProxyFromTheEnvironment) {
  StartProxy(0);
  provider_->QueueToken(FaultStep::Json(200, kTokenBody));
  ScopedEnv proxy("https_proxy", proxy_->url());

  absl::StatusOr<HttpResponse> response = http_.Send(ThroughProxy());

  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, kTokenBody);
  ASSERT_EQ(proxy_->Requests().size(), 1u);
  EXPECT_EQ(proxy_->Requests()[0].request_line, "CONNECT idp.example.test:443 HTTP/1.1");
}

TEST_F(CurlHttpClientProxyTest, ProxyRefusingTheTunnelIsNamed) {
  for (int refusal : {407, 502}) {
    SCOPED_TRACE(refusal);
    StartProxy(refusal);
    ScopedEnv proxy("https_proxy",
                    absl::StrCat("http://agent:pr0xy-pw@127.0.0.1:", proxy_->port()));

    absl::StatusOr<HttpResponse> response = http_.Send(ThroughProxy());

    EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_THAT(response.status().message(),
                HasSubstr(absl::StrCat("request to idp.example.test failed: the proxy at ",
                                       "127.0.0.1:", proxy_->port(), " answered HTTP ", refusal,
                                       " to CONNECT")));
    EXPECT_THAT(response.status().message(), Not(HasSubstr("pr0xy-pw")));
    EXPECT_EQ(provider_->Requests().size(), 0u);
  }
}

}  // namespace
}  // namespace agentauth
