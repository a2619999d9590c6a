#include "server/metrics/metrics.h"

#include <array>
#include <cstring>
#include <string>

namespace agentauth {
namespace {

constexpr char kService[] = "agentauth.v1.TokenService";

// RPCs answered from memory take microseconds; waits for a provider take up to its timeout.
const prometheus::Histogram::BucketBoundaries kRpcBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30};
const prometheus::Histogram::BucketBoundaries kProviderBuckets = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

// RFC 6749 5.2, RFC 8707 and RFC 6750 codes; any other string is "other".
constexpr std::array<absl::string_view, 9> kOAuthErrors = {
    "invalid_request",        "invalid_client", "invalid_grant",
    "unauthorized_client",    "invalid_scope",  "invalid_target",
    "unsupported_grant_type", "access_denied",  "server_error"};

std::string Label(absl::string_view value) { return std::string(value); }

}  // namespace

Metrics::Metrics(const std::string& version)
    : registry_(std::make_shared<prometheus::Registry>()),
      rpc_started_(prometheus::BuildCounter()
                       .Name("grpc_server_started_total")
                       .Help("RPCs started on the server.")
                       .Register(*registry_)),
      rpc_handled_(prometheus::BuildCounter()
                       .Name("grpc_server_handled_total")
                       .Help("RPCs completed on the server, by status code.")
                       .Register(*registry_)),
      rpc_seconds_(prometheus::BuildHistogram()
                       .Name("grpc_server_handling_seconds")
                       .Help("Time from the start of an RPC to its answer.")
                       .Register(*registry_)),
      token_requests_(prometheus::BuildCounter()
                          .Name("agentauth_token_requests_total")
                          .Help("GetAccessToken calls by result: hit, miss (waited for a fetch) "
                                "or error.")
                          .Register(*registry_)),
      waiters_(prometheus::BuildGauge()
                   .Name("agentauth_token_waiters")
                   .Help("Callers currently waiting for a fetch of the client's token.")
                   .Register(*registry_)),
      provider_requests_(prometheus::BuildCounter()
                             .Name("agentauth_provider_requests_total")
                             .Help("Requests to the OpenID provider by kind and outcome.")
                             .Register(*registry_)),
      oauth_errors_(prometheus::BuildCounter()
                        .Name("agentauth_provider_oauth_errors_total")
                        .Help("OAuth error codes the provider answered with.")
                        .Register(*registry_)),
      provider_seconds_(prometheus::BuildHistogram()
                            .Name("agentauth_provider_request_duration_seconds")
                            .Help("Duration of requests to the OpenID provider.")
                            .Register(*registry_)),
      retries_(prometheus::BuildCounter()
                   .Name("agentauth_provider_retries_total")
                   .Help("Background retries of a fetch after a failure.")
                   .Register(*registry_)),
      throttled_(prometheus::BuildCounter()
                     .Name("agentauth_provider_throttled_total")
                     .Help("Failures whose Retry-After the daemon honoured.")
                     .Register(*registry_)),
      config_reloads_(prometheus::BuildCounter()
                          .Name("agentauth_config_reloads_total")
                          .Help("Configuration reloads (SIGHUP) by result.")
                          .Register(*registry_)) {
  // Both results exist from the start, so that increase() sees the first failed reload.
  config_reloads_.Add({{"result", "success"}});
  config_reloads_.Add({{"result", "failure"}});
  prometheus::BuildGauge()
      .Name("agentauth_build_info")
      .Help("Always 1; the version label says which agentauthd is running.")
      .Register(*registry_)
      .Add({{"version", version}})
      .Set(1);
}

void Metrics::RpcStarted(absl::string_view method) {
  rpc_started_by_method_
      .Get(method,
           [&]() -> prometheus::Counter& {
             return rpc_started_.Add({{"grpc_service", kService},
                                      {"grpc_method", Label(method)},
                                      {"grpc_type", "unary"}});
           })
      .Increment();
}

void Metrics::RpcHandled(absl::string_view method, absl::string_view code, double seconds) {
  rpc_handled_by_method_code_
      .Get(ResolvedMetricKey(method, code).view(),
           [&]() -> prometheus::Counter& {
             return rpc_handled_.Add({{"grpc_service", kService},
                                      {"grpc_method", Label(method)},
                                      {"grpc_type", "unary"},
                                      {"grpc_code", Label(code)}});
           })
      .Increment();
  rpc_seconds_by_method_
      .Get(method,
           [&]() -> prometheus::Histogram& {
             return rpc_seconds_.Add({{"grpc_service", kService},
                                      {"grpc_method", Label(method)},
                                      {"grpc_type", "unary"}},
                                     kRpcBuckets);
           })
      .Observe(seconds);
}

void Metrics::TokenRequest(absl::string_view client, absl::string_view result,
                           absl::string_view code) {
  token_requests_by_labels_
      .Get(ResolvedMetricKey(client, result, code).view(),
           [&]() -> prometheus::Counter& {
             return token_requests_.Add(
                 {{"client", Label(client)}, {"result", Label(result)}, {"code", Label(code)}});
           })
      .Increment();
}

void Metrics::WaitersChanged(absl::string_view client, double delta) {
  waiters_by_client_
      .Get(client,
           [&]() -> prometheus::Gauge& {
             return waiters_.Add({{"client", Label(client)}});
           })
      .Increment(delta);
}

void Metrics::ProviderRequest(absl::string_view client, absl::string_view kind,
                              absl::string_view outcome, double seconds) {
  provider_requests_
      .Add({{"client", Label(client)}, {"kind", Label(kind)}, {"outcome", Label(outcome)}})
      .Increment();
  provider_seconds_.Add({{"kind", Label(kind)}}, kProviderBuckets).Observe(seconds);
}

void Metrics::OAuthError(absl::string_view client, absl::string_view error) {
  absl::string_view known = "other";
  for (absl::string_view code : kOAuthErrors) {
    if (code == error) known = code;
  }
  oauth_errors_.Add({{"client", Label(client)}, {"error", Label(known)}}).Increment();
}

void Metrics::Retry(absl::string_view client) {
  retries_.Add({{"client", Label(client)}}).Increment();
}

void Metrics::Throttled(absl::string_view client) {
  throttled_.Add({{"client", Label(client)}}).Increment();
}

void Metrics::ConfigReload(bool success) {
  config_reloads_.Add({{"result", success ? "success" : "failure"}}).Increment();
}

}  // namespace agentauth
