#include "server/provider/provider_client.h"

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "server/common/failure.h"
#include "server/common/status_macros.h"
#include "server/common/text.h"
#include "server/http/retry_after.h"
#include "server/http/url.h"
#include "server/provider/client_assertion.h"
#include "server/provider/client_authentication.h"

namespace agentauth {
namespace {

// Enough of an unexpected body to recognise it ("<html><title>Bad Gateway"), no more.
constexpr size_t kBodySnippetBytes = 200;

// How long a failed re-discovery waits before the next try, while the old document serves.
constexpr absl::Duration kRediscoveryRetry = absl::Seconds(30);

bool IsRetryableStatus(int status) {
  return status == 408 || status == 413 || status == 429 || status >= 500;
}

std::string HostOf(const std::string& url) {
  absl::StatusOr<ParsedUrl> parsed = ParseHttpUrl(url);
  return parsed.ok() ? parsed->host : url;
}

// "HTTP 502 (text/html): <html>Bad Gateway..." without anything that could be a token.
std::string DescribeAnswer(const HttpResponse& response) {
  std::string description = absl::StrCat("HTTP ", response.status);
  const std::string type = response.MediaType();
  absl::StrAppend(&description, " (", type.empty() ? "no content type" : type, ")");

  // A half-broken JSON token answer would put the token into the message: quote no body that
  // may hold one.
  if (response.body.empty()) {
    absl::StrAppend(&description, " with an empty body");
  } else if (response.body.find("_token") == std::string::npos) {
    absl::StrAppend(&description, ": ", SanitizeForMessage(response.body, kBodySnippetBytes));
  }
  return description;
}

std::string BasicHint(AuthMethod method) {
  if (method != AuthMethod::kClientSecretBasic) return "";
  return "; if the provider expects the secret in the request body, set auth_method to "
         "client_secret_post";
}

absl::Status HttpFailure(const absl::Status& status, absl::string_view what) {
  // A provider timeout is the provider being unavailable; DEADLINE_EXCEEDED would tell the
  // caller that its own deadline passed.
  return WithFailureKind(absl::UnavailableError(absl::StrCat(what, ": ", status.message())),
                         FailureKind::kTransient);
}

absl::Status Definitive(absl::Status status) {
  return WithFailureKind(std::move(status), FailureKind::kDefinitive);
}

// A retryable answer's status, with the provider's Retry-After when it sent a usable one.
absl::Status Transient(absl::Status status, const HttpResponse& response, absl::Time now) {
  status = WithFailureKind(std::move(status), FailureKind::kTransient);
  const std::string retry_after = response.Header("retry-after");
  if (std::optional<absl::Duration> delay = ParseRetryAfter(retry_after, now)) {
    status = WithRetryAfter(std::move(status), *delay);
  }
  return status;
}

// "; the credentials of client_id "x" were rejected" when the answer says the id or secret is
// wrong (RFC 6749 5.2 invalid_client, the non-standard "unauthorized", or a bare 401), else empty.
std::string CredentialsRejected(const HttpResponse& response,
                                const std::optional<OAuthError>& oauth,
                                const ClientConfig& client) {
  const bool rejected = oauth ? oauth->error == "invalid_client" || oauth->error == "unauthorized"
                              : response.status == 401;
  if (!rejected) return "";
  return absl::StrCat("; the credentials of client_id \"",
                      SanitizeForMessage(client.client_id, 128), "\" were rejected");
}

// "; the provider lists client_secret_basic, private_key_jwt" (or that it lists none), for a
// rejection of the credentials: the method used may be one the provider does not take.
std::string ListedMethods(const std::optional<std::vector<std::string>>& listed) {
  if (!listed) return "; the provider does not list its token endpoint auth methods";
  if (listed->empty()) return "; the provider lists no token endpoint auth methods";
  return absl::StrCat("; the provider lists ",
                      SanitizeForMessage(absl::StrJoin(*listed, ", "), 300));
}

// Interprets a token endpoint answer that is not a 2xx. `listed` is what discovery said the
// provider accepts (nullopt: not listed, or no discovery).
absl::Status TokenEndpointFailure(const HttpResponse& response, const ClientConfig& client,
                                  AuthMethod method,
                                  const std::optional<std::vector<std::string>>& listed,
                                  absl::Time now) {
  if (response.status >= 300 && response.status < 400) {
    const std::string location = response.Header("location");
    return Definitive(absl::FailedPreconditionError(absl::StrCat(
        "the token endpoint answered HTTP ", response.status, " redirecting to \"",
        SanitizeForMessage(location, 300), "\"; credentials are never sent after a redirect, ",
        "so configure the final URL as token_endpoint")));
  }

  const std::optional<OAuthError> oauth = ParseOAuthError(response.body);
  if (IsRetryableStatus(response.status)) {
    const std::string detail =
        oauth ? absl::StrCat("HTTP ", response.status, ": ", oauth->error,
                             oauth->description.empty() ? "" : ": ", oauth->description)
              : DescribeAnswer(response);
    const std::string message =
        absl::StrCat(response.status == 429 ? "the provider is throttling requests: "
                                            : "the provider is unavailable: ",
                     detail);
    return Transient(absl::UnavailableError(message), response, now);
  }
  if (oauth) {
    std::string message = absl::StrCat("the provider rejected the token request: ", oauth->error);
    if (!oauth->description.empty()) absl::StrAppend(&message, " (", oauth->description, ")");
    absl::StrAppend(&message, CredentialsRejected(response, oauth, client));
    absl::StrAppend(&message, "; HTTP ", response.status, ", auth_method ", AuthMethodName(method));
    if (oauth->error == "invalid_client" || oauth->error == "unauthorized") {
      absl::StrAppend(&message, ListedMethods(listed), BasicHint(method));
    }
    return Definitive(absl::FailedPreconditionError(message));
  }
  std::string message =
      absl::StrCat("the token endpoint refused the request: ", DescribeAnswer(response));
  absl::StrAppend(&message, CredentialsRejected(response, oauth, client));
  if (response.status == 401) {
    absl::StrAppend(&message, "; auth_method ", AuthMethodName(method), ListedMethods(listed),
                    BasicHint(method));
  }
  // Other 5xx (501, 505) mean the provider cannot do this at all, not that it is busy.
  return Definitive(response.status >= 500 ? absl::UnavailableError(message)
                                           : absl::FailedPreconditionError(message));
}

// `status` with every form of the client's secret removed from its message: a provider that
// echoes the request (some do, in error_description) must not put it into logs and statuses.
absl::Status Redacted(const absl::Status& status, const ClientConfig& client) {
  if (status.ok() || client.client_secret.empty()) return status;
  const std::string& raw = client.client_secret.value();
  const std::string basic = BasicAuthorization(client.client_id, raw);
  std::string message(status.message());
  for (const std::string& secret : {basic.substr(6), FormUrlEncode(raw), raw}) {
    message = absl::StrReplaceAll(message, {{secret, "[redacted]"}});
  }
  if (message == status.message()) return status;

  absl::Status redacted(status.code(), message);
  status.ForEachPayload([&](absl::string_view type_url, const absl::Cord& payload) {
    redacted.SetPayload(type_url, payload);
  });
  return redacted;
}

}  // namespace

ProviderClient::ProviderClient(HttpClient& http, const Clock& clock, Logger& logger,
                               Metrics& metrics, Random& random)
    : http_(http), clock_(clock), logger_(logger), metrics_(metrics), random_(random) {}

std::shared_ptr<ProviderClient::DiscoverySlot> ProviderClient::SlotFor(
    const std::string& issuer) const {
  std::lock_guard<std::mutex> lock(slots_mutex_);
  std::shared_ptr<DiscoverySlot>& slot = slots_[issuer];
  if (slot == nullptr) slot = std::make_shared<DiscoverySlot>();
  return slot;
}

std::string ProviderClient::TokenEndpointFor(const ClientConfig& client) const {
  if (!client.token_endpoint.empty()) return client.token_endpoint;

  std::shared_ptr<DiscoverySlot> slot = SlotFor(client.authority);
  // try_lock: a status call must not wait behind a discovery in flight.
  std::unique_lock<std::mutex> lock(slot->mutex, std::try_to_lock);
  if (!lock.owns_lock() || !slot->metadata) return "";
  return slot->metadata->token_endpoint;
}

void ProviderClient::ForgetDiscovery(const std::string& issuer) {
  std::shared_ptr<DiscoverySlot> slot = SlotFor(issuer);
  std::lock_guard<std::mutex> lock(slot->mutex);
  slot->refresh_after = absl::InfinitePast();
}

std::optional<absl::Duration> ProviderClient::DiscoveryAge(const ClientConfig& client) const {
  if (!client.token_endpoint.empty()) return std::nullopt;
  std::shared_ptr<DiscoverySlot> slot = SlotFor(client.authority);
  std::unique_lock<std::mutex> lock(slot->mutex, std::try_to_lock);
  if (!lock.owns_lock() || !slot->metadata) return std::nullopt;
  return clock_.Now() - slot->fetched_at;
}

absl::StatusOr<ProviderMetadata> ProviderClient::Discover(const ClientConfig& client) {
  std::shared_ptr<DiscoverySlot> slot = SlotFor(client.authority);
  const uint64_t attempts_seen = slot->completed_attempts.load();
  std::lock_guard<std::mutex> lock(slot->mutex);
  const absl::Time now = clock_.Now();
  if (slot->metadata && now < slot->refresh_after) return *slot->metadata;
  // Single flight: a first discovery that failed while this fetch waited for the lock is this
  // fetch's answer too. Trying again at once would hold one more fetch thread for the whole HTTP
  // timeout per client of a hung issuer.
  if (!slot->metadata && slot->completed_attempts.load() != attempts_seen &&
      !slot->last_failure.ok()) {
    return slot->last_failure;
  }

  absl::StatusOr<ProviderMetadata> metadata = FetchDiscovery(client);
  slot->last_failure = metadata.ok() ? absl::OkStatus() : metadata.status();
  slot->completed_attempts.fetch_add(1);
  if (!metadata.ok() && slot->metadata) {
    logger_.Warning("provider", "rediscovery_failed",
                    {{"issuer", client.authority},
                     {"cause", std::string(metadata.status().message())},
                     {"action", "keeping the last good discovery document"}});
    slot->refresh_after = now + std::min(kRediscoveryRetry, client.discovery_ttl);
    return *slot->metadata;
  }
  if (!metadata.ok()) return metadata.status();
  const bool changed = !slot->metadata ||
                       slot->metadata->token_endpoint != metadata->token_endpoint ||
                       slot->metadata->token_auth_methods != metadata->token_auth_methods;
  slot->metadata = *metadata;
  slot->refresh_after = now + client.discovery_ttl;
  slot->fetched_at = now;
  if (!changed) return metadata;

  const std::string methods = metadata->token_auth_methods
                                  ? absl::StrJoin(*metadata->token_auth_methods, ",")
                                  : "(not listed)";
  logger_.Info("provider", "discovered",
               {{"issuer", client.authority},
                {"token_endpoint", metadata->token_endpoint},
                {"auth_methods", methods}});
  return metadata;
}

absl::StatusOr<ProviderMetadata> ProviderClient::FetchDiscovery(const ClientConfig& client) {
  HttpRequest request;
  request.url = DiscoveryUrl(client.authority);
  request.headers = {{"Accept", "application/json"}};
  request.timeout = client.http.timeout;
  request.ca_file = client.http.ca_file;
  request.max_response_bytes = client.http.max_response_bytes;

  const std::string what = absl::StrCat("discovery at ", request.url);
  const absl::Time start = clock_.Now();
  absl::StatusOr<HttpResponse> response = http_.Send(request);
  bool usable = false;
  absl::Cleanup record = [&] {
    RecordRequest(client, "discovery", response, usable, clock_.Now() - start);
  };
  if (!response.ok()) return HttpFailure(response.status(), what);
  if (response->status != 200) {
    const std::string cause = absl::StrCat(what, " answered ", DescribeAnswer(*response));
    return IsRetryableStatus(response->status)
               ? Transient(absl::UnavailableError(cause), *response, clock_.Now())
               : Definitive(absl::FailedPreconditionError(cause));
  }

  absl::StatusOr<ProviderMetadata> metadata =
      ParseDiscoveryDocument(response->body, client.authority);
  if (!metadata.ok()) {
    const std::string cause = absl::StrCat(what, ": ", metadata.status().message());
    return Definitive(metadata.status().code() == absl::StatusCode::kFailedPrecondition
                          ? absl::FailedPreconditionError(cause)
                          : absl::UnavailableError(cause));
  }

  for (const std::string* url : {&metadata->token_endpoint, &metadata->mtls_token_endpoint}) {
    if (url->empty() && url == &metadata->mtls_token_endpoint) continue;
    absl::StatusOr<ParsedUrl> endpoint = ParseHttpUrl(*url);
    const bool main = url == &metadata->token_endpoint;
    const char* name = main ? "token_endpoint" : "mtls_endpoint_aliases.token_endpoint";
    if (!endpoint.ok()) {
      return Definitive(absl::FailedPreconditionError(
          absl::StrCat(what, ": ", name, " ", endpoint.status().message())));
    }
    if (endpoint->scheme == "http" && !IsLoopbackHost(endpoint->host) &&
        !client.allow_insecure_http) {
      return Definitive(absl::FailedPreconditionError(absl::StrCat(
          what, ": the ", main ? "token endpoint" : "mTLS token endpoint", " \"", *url,
          "\" is plain http; refusing to send the client secret there (allow_insecure_http "
          "permits it)")));
    }
  }
  usable = true;
  return metadata;
}

void ProviderClient::HoldClient(const ClientConfig& client, const absl::Status& cause,
                                absl::Time until) {
  std::lock_guard<std::mutex> lock(holds_mutex_);
  holds_[client.name] = Hold{until, cause};
}

std::optional<absl::Status> ProviderClient::HeldBack(const ClientConfig& client) const {
  std::lock_guard<std::mutex> lock(holds_mutex_);
  const auto found = holds_.find(client.name);
  if (found == holds_.end()) return std::nullopt;
  const absl::Time now = clock_.Now();
  if (now >= found->second.until) return std::nullopt;
  // The provider's own answer, waiting out what is left of its Retry-After.
  return WithRetryAfter(found->second.cause, found->second.until - now);
}

absl::StatusOr<ParsedToken> ProviderClient::FetchToken(const ClientConfig& client,
                                                       const std::vector<std::string>& scopes,
                                                       const std::string& audience) {
  if (std::optional<absl::Status> held = HeldBack(client)) return *held;
  absl::StatusOr<ParsedToken> token = RequestToken(client, scopes, audience);
  if (!token.ok()) return Redacted(token.status(), client);
  return token;
}

absl::StatusOr<ParsedToken> ProviderClient::RequestToken(const ClientConfig& client,
                                                         const std::vector<std::string>& scopes,
                                                         const std::string& audience) {
  std::string endpoint = client.token_endpoint;
  std::optional<std::vector<std::string>> listed;
  std::string mtls_endpoint;
  if (endpoint.empty()) {
    absl::StatusOr<ProviderMetadata> metadata = Discover(client);
    if (!metadata.ok()) return metadata.status();
    endpoint = metadata->token_endpoint;
    listed = metadata->token_auth_methods;
    mtls_endpoint = metadata->mtls_token_endpoint;
  }
  absl::StatusOr<AuthMethod> method =
      ChooseAuthMethod(client.auth_method, listed, AvailableCredentials::Of(client));
  if (!method.ok()) return Definitive(method.status());
  // RFC 8705 5: a provider may take mutual TLS on other endpoints than the ordinary ones.
  if (*method == AuthMethod::kTlsClientAuth && !mtls_endpoint.empty()) endpoint = mtls_endpoint;

  HttpRequest request;
  request.method = HttpRequest::Method::kPost;
  request.url = endpoint;
  request.timeout = client.http.timeout;
  request.ca_file = client.http.ca_file;
  request.max_response_bytes = client.http.max_response_bytes;
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                     {"Accept", "application/json"}};
  request.body = "grant_type=client_credentials";
  if (!scopes.empty()) {
    absl::StrAppend(&request.body, "&scope=", FormUrlEncode(absl::StrJoin(scopes, " ")));
  }
  if (!audience.empty()) absl::StrAppend(&request.body, "&resource=", FormUrlEncode(audience));
  AGENTAUTH_RETURN_IF_ERROR(Authenticate(client, *method, endpoint, request));

  const absl::Time start = clock_.Now();
  absl::StatusOr<HttpResponse> response = http_.Send(request);
  const absl::Time received_at = clock_.Now();
  bool usable = false;
  absl::Cleanup record = [&] {
    RecordRequest(client, "token", response, usable, received_at - start);
  };
  const bool discovered = client.token_endpoint.empty();
  if (!response.ok()) {
    if (discovered) ForgetDiscovery(client.authority);
    return HttpFailure(response.status(), absl::StrCat("token request to ", HostOf(endpoint)));
  }
  if (response->status == 404 && discovered) ForgetDiscovery(client.authority);
  if (response->status < 200 || response->status >= 300) {
    absl::Status failure = TokenEndpointFailure(*response, client, *method, listed, received_at);
    // A Retry-After speaks for the client, not only for this token's scopes and audience.
    if (std::optional<absl::Duration> wait = RetryAfterOf(failure)) {
      HoldClient(client, failure,
                 received_at + std::min(*wait, client.refresh.retry.max_retry_after));
    }
    return failure;
  }

  TokenResponseOptions options;
  options.default_lifetime = client.default_token_lifetime;
  options.received_at = received_at;
  absl::StatusOr<ParsedToken> token = ParseTokenResponse(response->body, options);
  if (!token.ok()) {
    // A sign-in page or a broken body is the provider's steady answer, not a hiccup.
    return Definitive(absl::UnavailableError(
        absl::StrCat("the token endpoint answered ", DescribeAnswer(*response),
                     ", which is not a token: ", token.status().message())));
  }
  for (const std::string& warning : token->warnings) {
    logger_.Warning("provider", "odd_token_response",
                    {{"client", client.name}, {"issuer", client.authority}, {"detail", warning}});
  }
  usable = true;
  return token;
}

absl::Status ProviderClient::Authenticate(const ClientConfig& client, AuthMethod method,
                                          const std::string& endpoint, HttpRequest& request) const {
  const std::string client_id = FormUrlEncode(client.client_id);
  switch (method) {
    case AuthMethod::kAutomatic:
    case AuthMethod::kClientSecretBasic:
      request.headers.emplace_back(
          "Authorization", BasicAuthorization(client.client_id, client.client_secret.value()));
      return absl::OkStatus();
    case AuthMethod::kClientSecretPost:
      absl::StrAppend(&request.body, "&client_id=", client_id,
                      "&client_secret=", FormUrlEncode(client.client_secret.value()));
      return absl::OkStatus();
    case AuthMethod::kTlsClientAuth:
      // RFC 8705 2: the certificate proves the identity; client_id says whose it is.
      absl::StrAppend(&request.body, "&client_id=", client_id);
      request.client_certificate_pem = client.tls_client_cert_pem;
      request.client_key_pem = client.tls_client_key_pem;
      return absl::OkStatus();
    case AuthMethod::kClientSecretJwt:
    case AuthMethod::kPrivateKeyJwt:
      break;
  }

  // RFC 7523 3: aud is the token endpoint; a fresh jti makes every assertion single-use.
  absl::StatusOr<std::string> assertion = SignClientAssertion(client, method,
                                                              {.client_id = client.client_id,
                                                               .audience = endpoint,
                                                               .issued_at = clock_.Now(),
                                                               .jwt_id = NewJwtId(random_)});
  if (!assertion.ok()) {
    return Definitive(absl::FailedPreconditionError(
        absl::StrCat("cannot sign the ", AuthMethodName(method),
                     " client assertion: ", assertion.status().message())));
  }
  absl::StrAppend(&request.body, "&client_id=", client_id,
                  "&client_assertion_type=", FormUrlEncode(kJwtBearerAssertionType),
                  "&client_assertion=", *assertion);
  return absl::OkStatus();
}

void ProviderClient::RecordRequest(const ClientConfig& client, absl::string_view kind,
                                   const absl::StatusOr<HttpResponse>& response, bool usable,
                                   absl::Duration took) {
  absl::string_view outcome = "invalid_response";
  if (!response.ok()) {
    outcome = response.status().code() == absl::StatusCode::kDeadlineExceeded ? "timeout"
                                                                              : "network_error";
  } else if (response->status >= 200 && response->status < 300) {
    outcome = usable ? "success" : "invalid_response";
  } else if (response->status >= 400 && response->status < 500) {
    outcome = "http_4xx";
    if (std::optional<OAuthError> oauth = ParseOAuthError(response->body)) {
      outcome = "oauth_error";
      metrics_.OAuthError(client.name, oauth->error);
    }
  } else if (response->status >= 500) {
    outcome = "http_5xx";
  }
  metrics_.ProviderRequest(client.name, kind, outcome, absl::ToDoubleSeconds(took));
}

}  // namespace agentauth
