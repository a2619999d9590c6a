// Conversions at the RPC edge: absl to gRPC status, absl::Time to protobuf types.
#pragma once

#include <grpcpp/support/status.h>

#include <optional>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace agentauth {

// The same code and message. The one place where absl::Status becomes grpc::Status.
grpc::Status ToGrpcStatus(const absl::Status& status);

google::protobuf::Timestamp ToProtoTimestamp(absl::Time time);

// nullopt when `duration` is not a valid protobuf Duration (seconds and nanos of mixed signs,
// nanos out of range).
std::optional<absl::Duration> FromProtoDuration(const google::protobuf::Duration& duration);

}  // namespace agentauth
