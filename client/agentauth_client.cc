#include "client/agentauth_client.h"

#include <chrono>
#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
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

}  // namespace

Client::Client(const std::string& target, std::shared_ptr<grpc::ChannelCredentials> credentials)
    : Client(grpc::CreateChannel(target, std::move(credentials))) {}

Client::Client(std::shared_ptr<grpc::Channel> channel)
    : channel_(std::move(channel)), stub_(v1::TokenService::NewStub(channel_)) {}

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
  v1::GetStatusResponse response;
  const grpc::Status status = stub_->GetStatus(&context, request, &response);

  if (!status.ok()) return ToAbslStatus(status);
  return response;
}

absl::Status Client::WaitUntilReachable(absl::Duration timeout) const {
  if (channel_->WaitForConnected(DeadlineAfter(timeout))) return absl::OkStatus();
  return absl::UnavailableError(
      absl::StrCat("no connection within ", absl::FormatDuration(timeout),
                   " (channel state: ", StateName(channel_->GetState(false)), ")"));
}

bool Client::IsConnected() const { return channel_->GetState(false) == GRPC_CHANNEL_READY; }

}  // namespace agentauth
