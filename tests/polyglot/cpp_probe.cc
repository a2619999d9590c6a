// The C++ helper against a live agentauthd; prints one JSON line for polyglot_test.cc.
//
// Usage: cpp_probe TARGET CLIENT UNKNOWN_CLIENT UNREACHABLE_TARGET WHOAMI_URL
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "client/token_source.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/support/channel_arguments.h"
#include "nlohmann/json.hpp"
#include "server/http/curl_http_client.h"

namespace agentauth {
namespace {

std::shared_ptr<TokenSource> SourceFor(const std::string& target, const std::string& client) {
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
  auto connection = std::make_shared<Client>(
      grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), arguments));
  return std::make_shared<TokenSource>(
      connection, TokenSource::Options{.token = {.client = client, .timeout = absl::Seconds(10)}});
}

nlohmann::json Failure(const std::string& target, const std::string& client) {
  absl::StatusOr<Token> token = SourceFor(target, client)->GetToken();
  if (token.ok()) return {{"code", "OK"}, {"message", "a token came back"}};
  return {{"code", absl::StatusCodeToString(token.status().code())},
          {"message", std::string(token.status().message())}};
}

long long JwtExp(const std::string& token) {
  const std::vector<std::string> parts = absl::StrSplit(token, '.');
  std::string payload;
  if (parts.size() != 3 || !absl::WebSafeBase64Unescape(parts[1], &payload)) return -1;
  const nlohmann::json claims = nlohmann::json::parse(payload, nullptr, false);
  return claims.is_object() ? claims.value("exp", -1LL) : -1;
}

int Run(const std::vector<std::string>& args) {
  const std::string &target = args[0], &client = args[1];
  std::shared_ptr<TokenSource> source = SourceFor(target, client);
  absl::StatusOr<Token> token = source->GetToken();
  if (!token.ok()) {
    std::fprintf(stderr, "cpp_probe: %s\n", token.status().ToString().c_str());
    return 1;
  }

  // The second use: the header of an HTTP request to an API that checks the token.
  absl::StatusOr<std::string> authorization = source->Authorization();
  HttpRequest request;
  request.url = args[4];
  request.headers.emplace_back("Authorization", authorization.value_or(""));
  CurlHttpClient http;
  absl::StatusOr<HttpResponse> answer = http.Send(request);

  const nlohmann::json result = {
      {"language", "cpp"},
      {"access_token", token->access_token},
      {"expires_at", absl::ToUnixSeconds(token->expires_at)},
      {"jwt_exp", JwtExp(token->access_token)},
      {"rpcs_after_two_uses", source->rpc_count()},
      {"api_status", answer.ok() ? answer->status : -1},
      {"unknown_client", Failure(target, args[2])},
      {"unreachable", Failure(args[3], client)},
  };
  std::printf("%s\n", result.dump().c_str());
  return 0;
}

}  // namespace
}  // namespace agentauth

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: cpp_probe TARGET CLIENT UNKNOWN UNREACHABLE WHOAMI_URL\n");
    return 2;
  }
  return agentauth::Run(std::vector<std::string>(argv + 1, argv + argc));
}
