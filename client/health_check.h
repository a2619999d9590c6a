// grpc.health.v1 without generated code, for the `agentauth health` command and the tests' probes.
//
// Debian's gRPC packages ship neither health.proto nor C++ code generated from it, and copying
// the proto would vendor third-party code. Its two messages have one field each, so they are
// encoded and decoded here with protobuf's wire-format primitives and called through a generic
// stub:
//
//   HealthCheckRequest  { string service = 1; }
//   HealthCheckResponse { ServingStatus status = 1; }

#ifndef AGENTAUTH_CLIENT_HEALTH_CHECK_H_
#define AGENTAUTH_CLIENT_HEALTH_CHECK_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace agentauth {

// grpc.health.v1.HealthCheckResponse.ServingStatus. A server may send a value beyond these
// (a newer enum); it is kept as it came and named by ServingStatusName.
enum class ServingStatus : int {
  kUnknown = 0,
  kServing = 1,
  kNotServing = 2,
  kServiceUnknown = 3,  // Only sent by Watch.
};

inline constexpr absl::string_view kHealthCheckMethod = "/grpc.health.v1.Health/Check";
inline constexpr absl::string_view kHealthWatchMethod = "/grpc.health.v1.Health/Watch";

// The wire bytes of HealthCheckRequest{service}. "" asks for the server as a whole.
std::string EncodeHealthCheckRequest(absl::string_view service);

// The status of a HealthCheckResponse in its wire bytes; fields other than `status` are skipped.
// INTERNAL when the bytes are not a well-formed protobuf message.
absl::StatusOr<ServingStatus> DecodeHealthCheckResponse(absl::string_view bytes);

// "SERVING", "NOT_SERVING", ...; "UNRECOGNIZED(<n>)" for a value beyond the known ones.
std::string ServingStatusName(ServingStatus status);

// Calls grpc.health.v1.Health/Check for `service` on `channel` and blocks until the call ends.
// `context` carries what the caller wants on the call (deadline, metadata); set a deadline, or
// an unreachable server is waited for forever. Returns the call's own error as it came
// (NOT_FOUND for a service the server does not know, UNAVAILABLE, DEADLINE_EXCEEDED, ...), or
// INTERNAL when the answer is not a HealthCheckResponse.
// REQUIRES: channel != nullptr; `context` is used for this one call only.
absl::StatusOr<ServingStatus> CallHealthCheck(const std::shared_ptr<grpc::Channel>& channel,
                                              grpc::ClientContext& context,
                                              absl::string_view service);

}  // namespace agentauth

#endif  // AGENTAUTH_CLIENT_HEALTH_CHECK_H_
