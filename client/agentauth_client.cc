#include "client/agentauth_client.h"

#include <chrono>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/status.h"

namespace agentauth {
namespace {

absl::Status ToAbslStatus(const grpc::Status& status) {
  // gRPC's and absl's canonical codes share their numbering, so the cast is exact.
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

// absl saturates an infinite timeout to time_point::max(), which gRPC reads as "no deadline".
std::chrono::system_clock::time_point DeadlineAfter(absl::Duration timeout) {
  return absl::ToChronoTime(absl::Now() + timeout);
}

void ToProto(absl::Duration duration, google::protobuf::Duration& proto) {
  // Truncation toward zero keeps seconds and nanos of one sign, as the Duration message demands.
  absl::Duration nanos_part;
  const int64_t seconds = absl::IDivDuration(duration, absl::Seconds(1), &nanos_part);
  proto.set_seconds(seconds);
  proto.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(nanos_part)));
}

const char* StateName(grpc_connectivity_state state) {
  switch (state) {
    case GRPC_CHANNEL_IDLE:
      return "IDLE";
    case GRPC_CHANNEL_CONNECTING:
      return "CONNECTING";
    case GRPC_CHANNEL_READY:
      return "READY";
    case GRPC_CHANNEL_TRANSIENT_FAILURE:
      return "TRANSIENT_FAILURE";
    case GRPC_CHANNEL_SHUTDOWN:
      return "SHUTDOWN";
  }
  return "UNKNOWN";
}

// The whole of a small file (certificates, keys, tokens), or nullopt when it cannot be read.
std::optional<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return std::nullopt;
  std::ostringstream content;
  content << file.rdbuf();
  return content.str();
}

}  // namespace

Client::Client(const std::string& target, std::shared_ptr<grpc::ChannelCredentials> credentials)
    : Client(grpc::CreateChannel(target, std::move(credentials))) {}

Client::Client(std::shared_ptr<grpc::Channel> channel, std::string token_file)
    : channel_(std::move(channel)),
      stub_(v1::TokenService::NewStub(channel_)),
      token_file_(std::move(token_file)) {}

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(const ConnectionOptions& options) {
  if (options.tls_ca_file.empty()) {
    if (!options.tls_cert_file.empty() || !options.tls_key_file.empty()) {
      return absl::InvalidArgumentError(
          "a client certificate (tls_cert_file, tls_key_file) needs tls_ca_file to verify the "
          "daemon with");
    }
    return std::make_unique<Client>(
        grpc::CreateChannel(options.target, grpc::InsecureChannelCredentials()),
        options.token_file);
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("set both tls_cert_file and tls_key_file, or neither");
  }

  grpc::SslCredentialsOptions tls;
  for (auto [path, target, name] :
       {std::tuple{&options.tls_ca_file, &tls.pem_root_certs, "tls_ca_file"},
        std::tuple{&options.tls_cert_file, &tls.pem_cert_chain, "tls_cert_file"},
        std::tuple{&options.tls_key_file, &tls.pem_private_key, "tls_key_file"}}) {
    if (path->empty()) continue;
    std::optional<std::string> content = ReadSmallFile(*path);
    if (!content) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": cannot read \"", *path, "\""));
    }
    *target = *std::move(content);
  }
  return std::make_unique<Client>(grpc::CreateChannel(options.target, grpc::SslCredentials(tls)),
                                  options.token_file);
}

absl::Status Client::Authenticate(grpc::ClientContext& context) const {
  if (token_file_.empty()) return absl::OkStatus();
  std::optional<std::string> token = ReadSmallFile(token_file_);
  if (!token) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read the token file \"", token_file_, "\""));
  }
  const absl::string_view trimmed = absl::StripAsciiWhitespace(*token);
  if (trimmed.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the token file \"", token_file_, "\" is empty"));
  }
  context.AddMetadata("authorization", absl::StrCat("Bearer ", trimmed));
  return absl::OkStatus();
}

absl::StatusOr<v1::GetAccessTokenResponse> Client::GetAccessToken(
    const TokenOptions& options) const {
  v1::GetAccessTokenRequest request;
  request.set_client(options.client);
  for (const std::string& scope : options.scopes) request.add_scopes(scope);
  request.set_audience(options.audience);
  if (options.min_validity.has_value()) {
    if (*options.min_validity == absl::InfiniteDuration() ||
        *options.min_validity == -absl::InfiniteDuration()) {
      return absl::InvalidArgumentError("min_validity must be finite");
    }
    ToProto(*options.min_validity, *request.mutable_min_validity());
  }
  request.set_force_refresh(options.force_refresh);

  grpc::ClientContext context;
  context.set_deadline(DeadlineAfter(options.timeout));
  if (absl::Status authenticated = Authenticate(context); !authenticated.ok()) {
    return authenticated;
  }
  v1::GetAccessTokenResponse response;
  const grpc::Status status = stub_->GetAccessToken(&context, request, &response);

  if (!status.ok()) return ToAbslStatus(status);
  return response;
}

absl::StatusOr<v1::GetStatusResponse> Client::GetStatus(std::string client,
                                                        absl::Duration timeout) const {
  v1::GetStatusRequest request;
  request.set_client(std::move(client));

  grpc::ClientContext context;
  context.set_deadline(DeadlineAfter(timeout));
  if (absl::Status authenticated = Authenticate(context); !authenticated.ok()) {
    return authenticated;
  }
  v1::GetStatusResponse response;
  const grpc::Status status = stub_->GetStatus(&context, request, &response);

  if (!status.ok()) return ToAbslStatus(status);
  return response;
}

absl::StatusOr<ServingStatus> Client::CheckHealth(absl::string_view service,
                                                  absl::Duration timeout) const {
  grpc::ClientContext context;
  context.set_deadline(DeadlineAfter(timeout));
  if (absl::Status authenticated = Authenticate(context); !authenticated.ok()) {
    return authenticated;
  }
  return CallHealthCheck(channel_, context, service);
}

absl::Status Client::WaitUntilReachable(absl::Duration timeout) const {
  if (channel_->WaitForConnected(DeadlineAfter(timeout))) return absl::OkStatus();
  return absl::UnavailableError(
      absl::StrCat("no connection within ", absl::FormatDuration(timeout),
                   " (channel state: ", StateName(channel_->GetState(false)), ")"));
}

bool Client::IsConnected() const { return channel_->GetState(false) == GRPC_CHANNEL_READY; }

}  // namespace agentauth
