#include "client/token_source.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace agentauth {

TokenSource::TokenSource(std::shared_ptr<const Client> client, Options options)
    : client_(std::move(client)), options_(std::move(options)) {}

absl::StatusOr<Token> TokenSource::GetToken() {
  std::shared_ptr<Flight> flight;
  bool leader = false;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (UsableLocked()) return *token_;
    leader = flight_ == nullptr;
    if (leader) {
      flight_ = std::make_shared<Flight>();
      ++rpcs_;
    }
    flight = flight_;
    if (!leader) {
      ++waiting_;
      landed_.wait(lock, [&] { return flight->done; });
      --waiting_;
      return flight->result;
    }
  }

  const absl::Time asked_at = options_.now();
  absl::StatusOr<Token> result = Call();

  std::lock_guard<std::mutex> lock(mutex_);
  if (result.ok()) {
    token_ = *result;
    received_at_ = asked_at;
  }
  flight->result = result;
  flight->done = true;
  flight_ = nullptr;
  landed_.notify_all();
  return result;
}

absl::StatusOr<std::string> TokenSource::Authorization() {
  absl::StatusOr<Token> token = GetToken();
  if (!token.ok()) return token.status();
  return token->authorization;
}

int TokenSource::rpc_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return rpcs_;
}

int TokenSource::waiting_callers() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return waiting_;
}

bool TokenSource::UsableLocked() const {
  if (!token_.has_value()) return false;

  const absl::Duration lifetime = token_->expires_at - received_at_;
  const absl::Duration margin = std::min(options_.min_validity, lifetime / 2);
  return options_.now() < token_->expires_at - margin;
}

absl::StatusOr<Token> TokenSource::Call() {
  TokenOptions request = options_.token;
  request.min_validity = options_.min_validity;
  absl::StatusOr<v1::GetAccessTokenResponse> response = client_->GetAccessToken(request);
  // TODO(cpp-target): name the daemon's address as the other helpers do; Client does not
  // expose its target yet. gRPC's own message names it when the daemon is unreachable.
  if (!response.ok()) {
    return absl::Status(
        response.status().code(),
        absl::StrCat("agentauth: client \"", request.client, "\": ", response.status().message()));
  }

  return Token{.access_token = response->access_token(),
               .authorization = response->authorization(),
               .expires_at = absl::FromUnixSeconds(response->expires_at().seconds()) +
                             absl::Nanoseconds(response->expires_at().nanos())};
}

TokenCredentialsPlugin::TokenCredentialsPlugin(std::shared_ptr<TokenSource> source)
    : source_(std::move(source)) {}

grpc::Status TokenCredentialsPlugin::GetMetadata(
    grpc::string_ref /*service_url*/, grpc::string_ref /*method_name*/,
    const grpc::AuthContext& /*channel_auth_context*/,
    std::multimap<grpc::string, grpc::string>* metadata) {
  absl::StatusOr<std::string> authorization = source_->Authorization();
  if (!authorization.ok()) {
    return grpc::Status(static_cast<grpc::StatusCode>(authorization.status().code()),
                        std::string(authorization.status().message()));
  }

  metadata->emplace("authorization", *std::move(authorization));
  return grpc::Status::OK;
}

std::shared_ptr<grpc::CallCredentials> TokenCallCredentials(std::shared_ptr<TokenSource> source) {
  return grpc::MetadataCredentialsFromPlugin(
      std::make_unique<TokenCredentialsPlugin>(std::move(source)));
}

}  // namespace agentauth
