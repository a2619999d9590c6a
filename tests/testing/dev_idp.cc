#include "tests/testing/dev_idp.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/http/curl_http_client.h"

namespace agentauth::testing {

absl::StatusOr<std::unique_ptr<DevIdp>> DevIdp::Start(const Options& options, const Files& files) {
  std::vector<std::string> command = {"node",
                                      AGENTAUTH_SOURCE_DIR "/deploy/dev-idp/server.mjs",
                                      "--port",
                                      "0",
                                      "--token-lifetime",
                                      absl::StrCat(options.token_lifetime_seconds)};
  const std::pair<const char*, const std::string*> file_flags[] = {
      {"--clients", &files.clients_file},
      {"--tls-cert", &files.tls_certificate_file},
      {"--tls-key", &files.tls_key_file},
      {"--client-ca", &files.client_ca_file}};
  for (const auto& [flag, value] : file_flags) {
    if (value->empty()) continue;
    command.push_back(flag);
    command.push_back(*value);
  }
  absl::StatusOr<std::unique_ptr<ChildProcess>> process = ChildProcess::Start(command);
  if (!process.ok()) return process.status();

  absl::StatusOr<std::string> line = (*process)->WaitForLine(
      ChildProcess::Stream::kStdout,
      [](const std::string& text) { return absl::StrContains(text, "\"listening\""); },
      absl::Seconds(30));
  if (!line.ok()) {
    return absl::UnavailableError(
        absl::StrCat("the dev identity provider did not start: ", line.status().message(),
                     "\nstderr:\n", (*process)->Output(ChildProcess::Stream::kStderr)));
  }

  auto idp = std::unique_ptr<DevIdp>(new DevIdp());
  idp->process_ = *std::move(process);
  idp->issuer_ = nlohmann::json::parse(*line).at("issuer").get<std::string>();
  return idp;
}

const DevIdp& DevIdp::Shared() {
  static const std::unique_ptr<DevIdp> shared = [] {
    absl::StatusOr<std::unique_ptr<DevIdp>> idp = Start({});
    if (!idp.ok()) {
      std::fprintf(stderr, "cannot start the dev identity provider: %s\n",
                   std::string(idp.status().message()).c_str());
      std::abort();
    }
    return *std::move(idp);
  }();
  return *shared;
}

absl::StatusOr<int> DevIdp::TokenRequests(const std::string& client_id) const {
  CurlHttpClient http;
  HttpRequest request;
  request.url = absl::StrCat(issuer_, "/__dev/stats");
  absl::StatusOr<HttpResponse> response = http.Send(request);
  if (!response.ok()) return response.status();

  const nlohmann::json stats = nlohmann::json::parse(response->body, nullptr, false);
  if (!stats.is_object()) return absl::InternalError("stats are not JSON: " + response->body);
  return stats["by_client"].value(client_id, 0);
}

}  // namespace agentauth::testing
