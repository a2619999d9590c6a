#include "tests/bench/bench_servers.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agentauth/v1/token_service.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "server/http/curl_http_client.h"
#include "tests/testing/grpc_probes.h"

namespace agentauth::bench {

std::vector<std::string> ClientNames(const DaemonSetup& setup) {
  std::vector<std::string> names;
  for (int i = 0; i < setup.clients; ++i) names.push_back(absl::StrCat(setup.name_prefix, i));
  return names;
}

std::string DaemonConfigJson(const DaemonSetup& setup) {
  nlohmann::json clients = nlohmann::json::array();
  for (const std::string& name : ClientNames(setup)) {
    nlohmann::json client = {{"name", name},
                             {"client_id", setup.client_id},
                             {"client_secret_env", kSecretEnv},
                             {"scopes", {setup.scope}}};
    if (!setup.token_endpoint.empty()) client["token_endpoint"] = setup.token_endpoint;
    clients.push_back(std::move(client));
  }
  const nlohmann::json config = {{"listen", "127.0.0.1:0"},
                                 {"metrics_listen", "127.0.0.1:0"},
                                 {"prewarm", setup.prewarm},
                                 {"max_concurrent_fetches", setup.max_concurrent_fetches},
                                 {"defaults", {{"authority", setup.authority}}},
                                 {"clients", clients}};
  return config.dump(2);
}

absl::StatusOr<ServerProcess> StartServer(
    const std::vector<std::string>& argv,
    const std::vector<std::pair<std::string, std::string>>& env, absl::Duration timeout) {
  ServerProcess server;
  absl::StatusOr<std::unique_ptr<testing::ChildProcess>> process =
      testing::ChildProcess::Start(argv, env);
  if (!process.ok()) return process.status();
  server.process = *std::move(process);

  absl::StatusOr<std::string> line = server.process->WaitForLine(
      testing::ChildProcess::Stream::kStderr,
      [](const std::string& text) { return absl::StrContains(text, "\"listening\""); }, timeout);
  if (!line.ok()) return line.status();
  const nlohmann::json listening =
      nlohmann::json::parse(*line, nullptr, /*allow_exceptions=*/false);
  if (!listening.is_object() || !listening.contains("address")) {
    return absl::InternalError(absl::StrCat("unexpected listening line: ", *line));
  }
  server.address = listening["address"].get<std::string>();
  if (listening.contains("metrics") && listening["metrics"].get<std::string>() != "off") {
    server.metrics_url = listening["metrics"].get<std::string>();
  }
  return server;
}

absl::StatusOr<ServerProcess> StartDaemon(const std::string& agentauthd, const std::string& dir,
                                          const DaemonSetup& setup) {
  static int configs_written = 0;
  const std::string path = absl::StrCat(dir, "/agentauthd-", ++configs_written, ".json");
  std::ofstream(path, std::ios::trunc) << DaemonConfigJson(setup);
  return StartServer({agentauthd, "--config", path, "--log-format", "json", "--log-level", "info"},
                     {{kSecretEnv, setup.secret}}, absl::Seconds(60));
}

absl::Status WaitUntilServing(const std::string& address, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  // Watch pushes every change, so SERVING is seen when it happens, not at the next poll.
  testing::HealthWatch watch(channel, "");
  while (absl::Now() < deadline) {
    if (watch.WaitFor(testing::kServing)) return absl::OkStatus();
  }
  return absl::DeadlineExceededError(
      absl::StrCat(address, " was not SERVING within ", absl::FormatDuration(timeout)));
}

absl::StatusOr<StatusCall> CallGetStatus(const std::string& address) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(256 << 20);
  // The answer for ten thousand clients is over a megabyte. With HTTP/2's default 64 KiB stream
  // window it crosses in a score of round trips, each waiting for both processes to be
  // scheduled; on a loaded machine that, not the daemon, made the call take up to 300 ms. A
  // window that holds the whole answer measures the daemon.
  arguments.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 << 20);
  auto stub = agentauth::v1::TokenService::NewStub(
      grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), arguments));
  // A first call connects, so that the measured ones cost what a connected caller pays. The
  // median of five keeps one call that lost the CPU to another process from being the figure.
  std::vector<absl::Duration> latencies;
  int clients = 0;
  for (int attempt = 0; attempt < 6; ++attempt) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    agentauth::v1::GetStatusRequest request;
    agentauth::v1::GetStatusResponse response;
    const absl::Time start = absl::Now();
    const grpc::Status status = stub->GetStatus(&context, request, &response);
    const absl::Duration latency = absl::Now() - start;
    if (!status.ok()) {
      return absl::UnavailableError(absl::StrCat("GetStatus failed: ", status.error_message()));
    }
    if (attempt > 0) latencies.push_back(latency);
    clients = response.clients_size();
  }
  std::sort(latencies.begin(), latencies.end());
  return StatusCall{clients, latencies[latencies.size() / 2]};
}

absl::StatusOr<double> ScrapeSum(const std::string& metrics_url, const std::string& metric,
                                 const std::string& label_text) {
  CurlHttpClient http;
  HttpRequest request;
  request.url = metrics_url;
  request.max_response_bytes = 256 << 20;
  absl::StatusOr<HttpResponse> response = http.Send(request);
  if (!response.ok()) return response.status();
  if (response->status != 200) {
    return absl::UnavailableError(absl::StrCat(metrics_url, " answered ", response->status));
  }
  double sum = 0;
  for (absl::string_view line : absl::StrSplit(response->body, '\n')) {
    if (!absl::StartsWith(line, metric) || !absl::StrContains(line, label_text)) continue;
    const absl::string_view rest = line.substr(metric.size());
    if (!rest.empty() && rest[0] != '{' && rest[0] != ' ') continue;  // A longer name.
    double value = 0;
    if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value)) sum += value;
  }
  return sum;
}

}  // namespace agentauth::bench
