// The provider client against a scripted HTTP layer: discovery (PQ-19), the choice of the
// authentication method (PQ-20), the exact request body (PQ-21) and how answers map to codes.
#include "server/provider/provider_client.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/common/failure.h"
#include "server/provider/client_authentication.h"
#include "tests/testing/captured_log.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_http_client.h"
#include "tests/testing/fake_scheduler.h"
#include "tests/testing/status_printing.h"
#include "tests/testing/test_keys.h"

namespace agentauth {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;

constexpr char kIssuer[] = "https://idp.example.test";
constexpr char kDiscoveryUrl[] = "https://idp.example.test/.well-known/openid-configuration";
constexpr char kTokenUrl[] = "https://idp.example.test/token";
constexpr char kTokenAnswer[] =
    R"({"access_token":"tok-1","token_type":"Bearer","expires_in":3600})";

std::string DiscoveryDocument(const std::string& issuer, const std::string& extra = "") {
  return absl::StrCat(R"({"issuer":")", issuer, R"(","token_endpoint":")", kTokenUrl, R"(")", extra,
                      "}");
}

std::string HeaderOf(const HttpRequest& request, const std::string& name) {
  for (const auto& [key, value] : request.headers) {
    if (key == name) return value;
  }
  return "";
}

class ProviderClientTest : public ::testing::Test {
 protected:
  ProviderClientTest() : logger_(clock_, LogLevel::kDebug, LogFormat::kText, log_.Sink()) {
    client_.name = "client-a";
    client_.client_id = "client-a";
    client_.client_secret = SecretString("s3cr3t");
    client_.authority = kIssuer;
    client_.scopes = {"api.read", "api.write"};
    http_.AnswerJson(kDiscoveryUrl, 200, DiscoveryDocument(kIssuer));
    http_.AnswerJson(kTokenUrl, 200, kTokenAnswer);
  }

  absl::StatusOr<ParsedToken> Fetch(const std::vector<std::string>& scopes = {"api.read"},
                                    const std::string& audience = "") {
    return provider_.FetchToken(client_, scopes, audience);
  }

  HttpRequest OnlyTokenRequest() {
    std::vector<HttpRequest> requests = http_.RequestsTo(kTokenUrl);
    EXPECT_EQ(requests.size(), 1u);
    return requests.empty() ? HttpRequest() : requests[0];
  }

  testing::FakeClock clock_;
  testing::CapturedLog log_;
  Logger logger_;
  testing::FakeHttpClient http_;
  Metrics metrics_{"test"};
  testing::FixedRandom random_;
  ProviderClient provider_{http_, clock_, logger_, metrics_, random_};
  ClientConfig client_;
};

TEST_F(ProviderClientTest, FetchesWithTheClientCredentialsGrant) {
  absl::StatusOr<ParsedToken> token = Fetch();

  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->access_token, "tok-1");
  EXPECT_EQ(token->lifetime, absl::Seconds(3600));
  const HttpRequest request = OnlyTokenRequest();
  EXPECT_EQ(request.method, HttpRequest::Method::kPost);
  EXPECT_EQ(request.body, "grant_type=client_credentials&scope=api.read");
  EXPECT_EQ(HeaderOf(request, "Content-Type"), "application/x-www-form-urlencoded");
}

TEST_F(ProviderClientTest, DiscoveryIsFetchedOncePerIssuer) {
  ASSERT_TRUE(Fetch().ok());
  ASSERT_TRUE(Fetch().ok());

  EXPECT_EQ(http_.RequestsTo(kDiscoveryUrl).size(), 1u);
  EXPECT_EQ(provider_.TokenEndpointFor(client_), kTokenUrl);
}

TEST_F(ProviderClientTest, FailedDiscoveryIsRetriedOnTheNextFetch) {
  http_.Fail(kDiscoveryUrl, absl::UnavailableError("connection refused"));
  absl::StatusOr<ParsedToken> first = Fetch();
  http_.ClearFailure(kDiscoveryUrl);

  absl::StatusOr<ParsedToken> second = Fetch();

  EXPECT_EQ(first.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(first.status().message(),
            "discovery at https://idp.example.test/.well-known/openid-configuration: "
            "connection refused");
  EXPECT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(http_.RequestsTo(kDiscoveryUrl).size(), 2u);
}

// PQ-19: an issuer with a trailing slash is discovered with one slash and matches exactly.
TEST_F(ProviderClientTest, PQ19_TrailingSlashIssuerUsesOneSlashAndMatches) {
  const std::string issuer = "https://idp.example.test/app/o/a1/";
  client_.authority = issuer;
  http_.AnswerJson("https://idp.example.test/app/o/a1/.well-known/openid-configuration", 200,
                   DiscoveryDocument(issuer));

  absl::StatusOr<ParsedToken> token = Fetch();

  ASSERT_TRUE(token.ok()) << token.status();
}

// PQ-19: configured without the slash, against a document with it: a configuration error
// quoting both strings.
TEST_F(ProviderClientTest, PQ19_IssuerMismatchQuotesBothStrings) {
  client_.authority = "https://idp.example.test/app/o/a1";
  http_.AnswerJson("https://idp.example.test/app/o/a1/.well-known/openid-configuration", 200,
                   DiscoveryDocument("https://idp.example.test/app/o/a1/"));

  absl::StatusOr<ParsedToken> token = Fetch();

  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(token.status().message()),
              HasSubstr("the discovery document's issuer \"https://idp.example.test/app/o/a1/\" "
                        "is not the configured authority \"https://idp.example.test/app/o/a1\""));
  EXPECT_THAT(http_.RequestsTo(kTokenUrl), IsEmpty());
}

// PQ-20: which method, from the discovery document and the config.
struct MethodCase {
  std::string name;
  std::string listed;  // JSON fragment added to the discovery document
  AuthMethod configured;
  AuthMethod expected;
};

class ProviderAuthMethodTest : public ProviderClientTest,
                               public ::testing::WithParamInterface<MethodCase> {};

TEST_P(ProviderAuthMethodTest, PQ20_SendsTheSecretExactlyOneWay) {
  http_.AnswerJson(kDiscoveryUrl, 200, DiscoveryDocument(kIssuer, GetParam().listed));
  client_.auth_method = GetParam().configured;

  ASSERT_TRUE(Fetch().ok());

  const HttpRequest request = OnlyTokenRequest();
  const bool basic = !HeaderOf(request, "Authorization").empty();
  const bool post = absl::StrContains(request.body, "client_secret=");
  EXPECT_NE(basic, post) << "the secret goes exactly one way";
  EXPECT_EQ(basic, GetParam().expected == AuthMethod::kClientSecretBasic);
  if (post) {
    EXPECT_EQ(request.body,
              "grant_type=client_credentials&scope=api.read&client_id=client-a&"
              "client_secret=s3cr3t");
  }
}

INSTANTIATE_TEST_SUITE_P(
    ProviderQuirks, ProviderAuthMethodTest,
    ::testing::Values(
        MethodCase{"NotListedMeansBasic", "", AuthMethod::kAutomatic,
                   AuthMethod::kClientSecretBasic},
        MethodCase{"OnlyPostListed",
                   R"(,"token_endpoint_auth_methods_supported":["client_secret_post"])",
                   AuthMethod::kAutomatic, AuthMethod::kClientSecretPost},
        MethodCase{"BothListedPrefersBasic",
                   R"(,"token_endpoint_auth_methods_supported":)"
                   R"(["client_secret_post","client_secret_basic"])",
                   AuthMethod::kAutomatic, AuthMethod::kClientSecretBasic},
        MethodCase{"ConfiguredBasicBeatsPostOnly",
                   R"(,"token_endpoint_auth_methods_supported":["client_secret_post"])",
                   AuthMethod::kClientSecretBasic, AuthMethod::kClientSecretBasic},
        MethodCase{"ConfiguredPostBeatsNotListed", "", AuthMethod::kClientSecretPost,
                   AuthMethod::kClientSecretPost}),
    [](const ::testing::TestParamInfo<MethodCase>& param_info) { return param_info.param.name; });

// The claims of a compact JWT, decoded without verification.
nlohmann::json JwtClaimsOf(const std::string& jwt) {
  const std::vector<std::string> parts = absl::StrSplit(jwt, '.');
  std::string payload;
  if (parts.size() != 3 || !absl::WebSafeBase64Unescape(parts[1], &payload)) return {};
  return nlohmann::json::parse(payload, nullptr, false);
}

// The value of form field `name` in `body`, form-decoded only for the characters used here.
std::string FormField(const std::string& body, const std::string& name) {
  for (absl::string_view field : absl::StrSplit(body, '&')) {
    if (absl::ConsumePrefix(&field, name + "=")) {
      return absl::StrReplaceAll(field, {{"%3A", ":"}, {"%2F", "/"}});
    }
  }
  return "";
}

TEST_F(ProviderClientTest, PrivateKeyJwtSendsASignedAssertionForTheTokenEndpoint) {
  client_.client_secret = SecretString();
  client_.private_key_pem = SecretString(testing::NewEcKeyPem());
  client_.signing_algorithm = SigningAlgorithm::kEs256;
  client_.auth_method = AuthMethod::kPrivateKeyJwt;

  ASSERT_TRUE(Fetch().ok());

  const HttpRequest request = OnlyTokenRequest();
  EXPECT_EQ(HeaderOf(request, "Authorization"), "");
  EXPECT_EQ(FormField(request.body, "client_id"), "client-a");
  EXPECT_EQ(FormField(request.body, "client_assertion_type"),
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
  const nlohmann::json claims = JwtClaimsOf(FormField(request.body, "client_assertion"));
  EXPECT_EQ(claims["aud"], kTokenUrl);
  EXPECT_EQ(claims["iss"], "client-a");
  EXPECT_EQ(claims["iat"], absl::ToUnixSeconds(clock_.Now()));
  EXPECT_EQ(claims["exp"], absl::ToUnixSeconds(clock_.Now()) + 60);
}

// What libcurl is handed as the client key; the provider client passes it on without parsing.
constexpr char kClientKeyPem[] = "(client key PEM)";

TEST_F(ProviderClientTest, TlsClientAuthPresentsTheCertificateAndSendsOnlyTheClientId) {
  client_.client_secret = SecretString();
  client_.tls_client_cert_pem = "-----BEGIN CERTIFICATE-----";
  client_.tls_client_key_pem = SecretString(kClientKeyPem);

  ASSERT_TRUE(Fetch().ok());

  const HttpRequest request = OnlyTokenRequest();
  EXPECT_EQ(request.body, "grant_type=client_credentials&scope=api.read&client_id=client-a");
  EXPECT_EQ(HeaderOf(request, "Authorization"), "");
  EXPECT_EQ(request.client_certificate_pem, "-----BEGIN CERTIFICATE-----");
  EXPECT_EQ(request.client_key_pem, kClientKeyPem);
}

TEST_F(ProviderClientTest, TlsClientAuthUsesTheMtlsEndpointAliasWhenDiscoveryNamesOne) {
  constexpr char kMtlsTokenUrl[] = "https://mtls.idp.example.test/token";
  http_.AnswerJson(
      kDiscoveryUrl, 200,
      DiscoveryDocument(kIssuer, absl::StrCat(R"(,"mtls_endpoint_aliases":)",
                                              R"({"token_endpoint":")", kMtlsTokenUrl, R"("})")));
  http_.AnswerJson(kMtlsTokenUrl, 200, kTokenAnswer);
  client_.tls_client_cert_pem = "-----BEGIN CERTIFICATE-----";
  client_.tls_client_key_pem = SecretString(kClientKeyPem);
  client_.auth_method = AuthMethod::kTlsClientAuth;

  ASSERT_TRUE(Fetch().ok());

  EXPECT_EQ(http_.RequestsTo(kMtlsTokenUrl).size(), 1u);
  EXPECT_THAT(http_.RequestsTo(kTokenUrl), IsEmpty());
}

TEST_F(ProviderClientTest, RejectedCredentialsNameTheMethodAndTheListedOnes) {
  http_.AnswerJson(kDiscoveryUrl, 200,
                   DiscoveryDocument(kIssuer, R"(,"token_endpoint_auth_methods_supported":)"
                                              R"(["private_key_jwt","client_secret_post"])"));
  http_.AnswerJson(kTokenUrl, 401, R"({"error":"invalid_client"})");

  absl::StatusOr<ParsedToken> token = Fetch();

  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(token.status().message(),
            "the provider rejected the token request: invalid_client; the credentials of client_id "
            "\"client-a\" were rejected; HTTP 401, auth_method client_secret_post; the provider "
            "lists private_key_jwt, client_secret_post");
}

TEST_F(ProviderClientTest, NoMethodFitsTheCredentialsIsDefinitiveWithoutATokenRequest) {
  http_.AnswerJson(kDiscoveryUrl, 200,
                   DiscoveryDocument(kIssuer, R"(,"token_endpoint_auth_methods_supported":)"
                                              R"(["tls_client_auth"])"));

  absl::StatusOr<ParsedToken> token = Fetch();

  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(FailureKindOf(token.status()), FailureKind::kDefinitive);
  EXPECT_THAT(token.status().message(), HasSubstr("the provider lists token endpoint auth methods "
                                                  "tls_client_auth"));
  EXPECT_THAT(http_.RequestsTo(kTokenUrl), IsEmpty());
}

TEST_F(ProviderClientTest, PQ20_RejectedBasicSuggestsCheckingAuthMethod) {
  http_.AnswerJson(kTokenUrl, 401, R"({"error":"invalid_client"})");

  absl::StatusOr<ParsedToken> token = Fetch();

  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(token.status().message(),
            "the provider rejected the token request: invalid_client; the credentials of client_id "
            "\"client-a\" were rejected; HTTP 401, auth_method "
            "client_secret_basic; the provider does not list its token endpoint auth methods; if "
            "the provider expects the secret in the request body, set auth_method to "
            "client_secret_post");
}

// PQ-21: the body carries exactly the normalized scopes; none at all for an empty set.
TEST_F(ProviderClientTest, PQ21_ScopesAreSentSpaceSeparatedAsPlus) {
  ASSERT_TRUE(Fetch({"api.read", "api.write"}).ok());

  EXPECT_EQ(OnlyTokenRequest().body, "grant_type=client_credentials&scope=api.read+api.write");
}

TEST_F(ProviderClientTest, PQ21_EmptyScopeSetSendsNoScopeParameter) {
  ASSERT_TRUE(Fetch({}).ok());

  EXPECT_EQ(OnlyTokenRequest().body, "grant_type=client_credentials");
}

TEST_F(ProviderClientTest, AudienceIsSentAsResourceIndicator) {
  ASSERT_TRUE(Fetch({}, "https://api.example.test/v1?x=1").ok());

  EXPECT_EQ(OnlyTokenRequest().body,
            "grant_type=client_credentials&resource=https%3A%2F%2Fapi.example.test%2Fv1%3Fx%3D1");
}

TEST_F(ProviderClientTest, ConfiguredTokenEndpointSkipsDiscovery) {
  client_.token_endpoint = "https://other.example.test/oauth/token";
  http_.AnswerJson(client_.token_endpoint, 200, kTokenAnswer);

  ASSERT_TRUE(Fetch().ok());

  EXPECT_THAT(http_.RequestsTo(kDiscoveryUrl), IsEmpty());
  EXPECT_THAT(http_.RequestsTo(kTokenUrl), IsEmpty());
  EXPECT_EQ(provider_.TokenEndpointFor(client_), client_.token_endpoint);
}

TEST_F(ProviderClientTest, PlainHttpTokenEndpointFromDiscoveryIsRefused) {
  http_.AnswerJson(
      kDiscoveryUrl, 200,
      R"({"issuer":"https://idp.example.test","token_endpoint":"http://idp.example.test/token"})");

  absl::StatusOr<ParsedToken> token = Fetch();

  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(token.status().message()), HasSubstr("is plain http; refusing"));
  EXPECT_THAT(http_.RequestsTo("http://idp.example.test/token"), IsEmpty());
}

// How answers map to the codes of DESIGN.md.
struct AnswerCase {
  std::string name;
  int status;
  std::string content_type;
  std::string body;
  absl::StatusCode code;
  std::string message;
};

class ProviderAnswerTest : public ProviderClientTest,
                           public ::testing::WithParamInterface<AnswerCase> {};

TEST_P(ProviderAnswerTest, MapsToTheDocumentedCode) {
  HttpResponse response;
  response.status = GetParam().status;
  response.headers = {{"content-type", GetParam().content_type}};
  response.body = GetParam().body;
  http_.Answer(kTokenUrl, response);

  absl::StatusOr<ParsedToken> token = Fetch();

  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().code(), GetParam().code);
  EXPECT_EQ(token.status().message(), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Answers, ProviderAnswerTest,
    ::testing::Values(
        AnswerCase{"InvalidScope", 400, "application/json",
                   R"({"error":"invalid_scope","error_description":"unknown scope"})",
                   absl::StatusCode::kFailedPrecondition,
                   "the provider rejected the token request: invalid_scope (unknown scope); "
                   "HTTP 400, auth_method client_secret_basic"},
        AnswerCase{"BadGatewayPage", 502, "text/html",
                   "<html>\n  <title>Bad   Gateway</title></html>", absl::StatusCode::kUnavailable,
                   "the provider is unavailable: HTTP 502 (text/html): "
                   "<html>\\n <title>Bad Gateway</title></html>"},
        AnswerCase{"TooManyRequests", 429, "text/plain", "Too Many Requests",
                   absl::StatusCode::kUnavailable,
                   "the provider is throttling requests: HTTP 429 (text/plain): Too Many "
                   "Requests"},
        AnswerCase{"ForbiddenHtmlLabelledJson", 403, "application/json",
                   "<html>Access Denied</html>", absl::StatusCode::kFailedPrecondition,
                   "the token endpoint refused the request: HTTP 403 (application/json): "
                   "<html>Access Denied</html>"},
        AnswerCase{"SignInPageWith200", 200, "text/html", "<html>Sign in</html>",
                   absl::StatusCode::kUnavailable,
                   "the token endpoint answered HTTP 200 (text/html): <html>Sign in</html>, "
                   "which is not a token: the answer is not a JSON object"},
        AnswerCase{"BrokenJsonHoldingAToken", 200, "application/json",
                   R"({"access_token":"tok-SECRET)", absl::StatusCode::kUnavailable,
                   "the token endpoint answered HTTP 200 (application/json), which is not a "
                   "token: the answer is not a JSON object"},
        AnswerCase{"Unauthorized401Empty", 401, "", "", absl::StatusCode::kFailedPrecondition,
                   "the token endpoint refused the request: HTTP 401 (no content type) with an "
                   "empty body; the credentials of client_id \"client-a\" were rejected; "
                   "auth_method client_secret_basic; the provider does not list its token "
                   "endpoint auth methods; if the provider expects the secret in the request "
                   "body, set auth_method to client_secret_post"},
        AnswerCase{"Redirect", 301, "text/html", "", absl::StatusCode::kFailedPrecondition,
                   "the token endpoint answered HTTP 301 redirecting to \"\"; credentials are "
                   "never sent after a redirect, so configure the final URL as token_endpoint"}),
    [](const ::testing::TestParamInfo<AnswerCase>& param_info) { return param_info.param.name; });

TEST_F(ProviderClientTest, NetworkFailureIsUnavailable) {
  http_.Fail(kTokenUrl, absl::DeadlineExceededError("no complete answer within 10s"));

  absl::StatusOr<ParsedToken> token = Fetch();

  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().code(), absl::StatusCode::kUnavailable)
      << "a provider timeout must not look like the caller's deadline";
  EXPECT_EQ(token.status().message(),
            "token request to idp.example.test: no complete answer within 10s");
}

TEST_F(ProviderClientTest, OddResponsesAreLoggedWithoutTheToken) {
  http_.AnswerJson(kTokenUrl, 200, R"({"access_token":"tok-1"})");

  ASSERT_TRUE(Fetch().ok());

  const std::vector<std::string> lines = log_.Lines();
  EXPECT_THAT(lines, Contains(HasSubstr("odd_token_response client=client-a")));
  for (const std::string& line : lines) {
    EXPECT_THAT(line, Not(HasSubstr("tok-1")));
    EXPECT_THAT(line, Not(HasSubstr("s3cr3t")));
  }
}

TEST_F(ProviderClientTest, ThrottlingCarriesRetryAfterAndIsTransient) {
  HttpResponse response;
  response.status = 429;
  response.headers = {{"content-type", "text/plain"}, {"retry-after", "60"}};
  response.body = "Too Many Requests";
  http_.Answer(kTokenUrl, response);

  absl::StatusOr<ParsedToken> token = Fetch();

  ASSERT_FALSE(token.ok());
  EXPECT_EQ(FailureKindOf(token.status()), FailureKind::kTransient);
  EXPECT_EQ(RetryAfterOf(token.status()), absl::Seconds(60));
}

TEST_F(ProviderClientTest, InvalidRetryAfterIsLeftToTheBackoff) {
  HttpResponse response;
  response.status = 503;
  response.headers = {{"retry-after", "-1"}};
  http_.Answer(kTokenUrl, response);

  absl::StatusOr<ParsedToken> token = Fetch();

  EXPECT_EQ(FailureKindOf(token.status()), FailureKind::kTransient);
  EXPECT_EQ(RetryAfterOf(token.status()), std::nullopt);
}

TEST_F(ProviderClientTest, OAuthRejectionsAndSignInPagesAreDefinitive) {
  http_.AnswerJson(kTokenUrl, 400, R"({"error":"invalid_scope"})");
  EXPECT_EQ(FailureKindOf(Fetch().status()), FailureKind::kDefinitive);

  HttpResponse page;
  page.status = 200;
  page.headers = {{"content-type", "text/html"}};
  page.body = "<html>Sign in</html>";
  http_.Answer(kTokenUrl, page);
  EXPECT_EQ(FailureKindOf(Fetch().status()), FailureKind::kDefinitive);
}

TEST_F(ProviderClientTest, ConnectionFailuresAreTransient) {
  http_.Fail(kTokenUrl, absl::UnavailableError("connection refused"));

  EXPECT_EQ(FailureKindOf(Fetch().status()), FailureKind::kTransient);
}

TEST_F(ProviderClientTest, DiscoveryIsFetchedAgainAfterItsTtl) {
  client_.discovery_ttl = absl::Minutes(10);
  ASSERT_TRUE(Fetch().ok());

  clock_.Advance(absl::Minutes(9));
  ASSERT_TRUE(Fetch().ok());
  EXPECT_EQ(http_.RequestsTo(kDiscoveryUrl).size(), 1u);
  clock_.Advance(absl::Minutes(2));
  ASSERT_TRUE(Fetch().ok());
  EXPECT_EQ(http_.RequestsTo(kDiscoveryUrl).size(), 2u);
}

TEST_F(ProviderClientTest, FailedRediscoveryKeepsTheLastGoodDocument) {
  client_.discovery_ttl = absl::Minutes(10);
  ASSERT_TRUE(Fetch().ok());
  http_.Fail(kDiscoveryUrl, absl::UnavailableError("connection refused"));
  clock_.Advance(absl::Minutes(11));

  absl::StatusOr<ParsedToken> token = Fetch();

  EXPECT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(provider_.TokenEndpointFor(client_), kTokenUrl);
  EXPECT_THAT(log_.Lines(), Contains(HasSubstr("rediscovery_failed")));
}

TEST_F(ProviderClientTest, TokenEndpointAnswering404TriggersEarlyRediscovery) {
  ASSERT_TRUE(Fetch().ok());
  http_.AnswerJson(kTokenUrl, 404, "{}");
  ASSERT_FALSE(Fetch().ok());
  const std::string moved = "https://idp.example.test/v2/token";
  http_.AnswerJson(
      kDiscoveryUrl, 200,
      absl::StrCat(R"({"issuer":")", kIssuer, R"(","token_endpoint":")", moved, R"("})"));
  http_.AnswerJson(moved, 200, kTokenAnswer);

  absl::StatusOr<ParsedToken> token = Fetch();

  EXPECT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(http_.RequestsTo(kDiscoveryUrl).size(), 2u);
  EXPECT_EQ(provider_.TokenEndpointFor(client_), moved);
}

TEST_F(ProviderClientTest, SecretEchoedByTheProviderIsRedacted) {
  client_.client_secret = SecretString("S3CRET+VALUE");
  const std::string basic = BasicAuthorization(client_.client_id, client_.client_secret.value());
  http_.AnswerJson(kTokenUrl, 400,
                   absl::StrCat(R"({"error":"invalid_request","error_description":"got )", basic,
                                R"( and client_secret=S3CRET%2BVALUE and S3CRET+VALUE"})"));

  absl::StatusOr<ParsedToken> token = Fetch();

  ASSERT_FALSE(token.ok());
  const std::string message(token.status().message());
  EXPECT_THAT(message, HasSubstr("got Basic [redacted] and client_secret=[redacted] and "
                                 "[redacted]"));
  EXPECT_EQ(FailureKindOf(token.status()), FailureKind::kDefinitive) << "payloads survive";
}

// RFC 6749 2.3.1: id and secret are form-encoded before Basic encoding.
TEST(BasicAuthorizationTest, ReservedCharactersAreFormEncodedFirst) {
  const std::string header = BasicAuthorization("agent:with+reserved", "p+a%s s:w/rd&=?");

  ASSERT_TRUE(absl::StartsWith(header, "Basic "));
  std::string decoded;
  ASSERT_TRUE(absl::Base64Unescape(header.substr(6), &decoded));
  EXPECT_EQ(decoded, "agent%3Awith%2Breserved:p%2Ba%25s+s%3Aw%2Frd%26%3D%3F");
}

TEST(BasicAuthorizationTest, PlainCredentialsStayReadable) {
  std::string decoded;
  ASSERT_TRUE(absl::Base64Unescape(BasicAuthorization("client-a", "s3cr3t").substr(6), &decoded));

  EXPECT_EQ(decoded, "client-a:s3cr3t");
}

}  // namespace
}  // namespace agentauth
