#include "server/service/conversions.h"

namespace agentauth {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl::StatusCode and grpc::StatusCode share the canonical numbering.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

google::protobuf::Timestamp ToProtoTimestamp(absl::Time time) {
  const timespec spec = absl::ToTimespec(time);
  google::protobuf::Timestamp timestamp;
  timestamp.set_seconds(spec.tv_sec);
  timestamp.set_nanos(static_cast<int32_t>(spec.tv_nsec));
  return timestamp;
}

std::optional<absl::Duration> FromProtoDuration(const google::protobuf::Duration& duration) {
  const int64_t seconds = duration.seconds();
  const int32_t nanos = duration.nanos();
  if (nanos <= -1000000000 || nanos >= 1000000000) return std::nullopt;
  if ((seconds > 0 && nanos < 0) || (seconds < 0 && nanos > 0)) return std::nullopt;
  return absl::Seconds(seconds) + absl::Nanoseconds(nanos);
}

}  // namespace agentauth
