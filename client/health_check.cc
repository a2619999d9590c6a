#include "client/health_check.h"

#include <condition_variable>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/byte_buffer.h"

namespace agentauth {
namespace {

using google::protobuf::internal::WireFormatLite;

// Both messages keep their only field at number 1.
constexpr int kOnlyField = 1;

std::string ToBytes(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (!buffer.Dump(&slices).ok()) return bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return bytes;
}

absl::Status ToAbslStatus(const grpc::Status& status) {
  // gRPC's and absl's canonical codes share their numbering, so the cast is exact.
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace

std::string EncodeHealthCheckRequest(absl::string_view service) {
  std::string bytes;
  // proto3 leaves a field at its default (the empty string) off the wire.
  if (service.empty()) return bytes;

  google::protobuf::io::StringOutputStream stream(&bytes);
  google::protobuf::io::CodedOutputStream output(&stream);
  WireFormatLite::WriteString(kOnlyField, std::string(service), &output);
  output.Trim();
  return bytes;
}

absl::StatusOr<ServingStatus> DecodeHealthCheckResponse(absl::string_view bytes) {
  google::protobuf::io::CodedInputStream input(reinterpret_cast<const uint8_t*>(bytes.data()),
                                               static_cast<int>(bytes.size()));
  // A missing field is proto3's default, UNKNOWN; a repeated one counts with its last value.
  auto status = ServingStatus::kUnknown;
  while (const uint32_t tag = input.ReadTag()) {
    if (tag == WireFormatLite::MakeTag(kOnlyField, WireFormatLite::WIRETYPE_VARINT)) {
      uint32_t value = 0;
      if (!input.ReadVarint32(&value)) break;
      status = static_cast<ServingStatus>(value);
      continue;
    }
    if (!WireFormatLite::SkipField(&input, tag)) break;
  }
  if (!input.ConsumedEntireMessage() || input.CurrentPosition() != static_cast<int>(bytes.size())) {
    return absl::InternalError("the health check answer is not a HealthCheckResponse");
  }
  return status;
}

std::string ServingStatusName(ServingStatus status) {
  switch (status) {
    case ServingStatus::kUnknown:
      return "UNKNOWN";
    case ServingStatus::kServing:
      return "SERVING";
    case ServingStatus::kNotServing:
      return "NOT_SERVING";
    case ServingStatus::kServiceUnknown:
      return "SERVICE_UNKNOWN";
  }
  return absl::StrCat("UNRECOGNIZED(", static_cast<int>(status), ")");
}

absl::StatusOr<ServingStatus> CallHealthCheck(const std::shared_ptr<grpc::Channel>& channel,
                                              grpc::ClientContext& context,
                                              absl::string_view service) {
  const std::string request_bytes = EncodeHealthCheckRequest(service);
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;

  // The generic stub of Debian's gRPC (1.51) has no blocking unary call: wait for the callback.
  std::mutex mutex;
  std::condition_variable done;
  bool finished = false;
  grpc::Status call_status;
  grpc::GenericStub stub(channel);
  stub.UnaryCall(&context, std::string(kHealthCheckMethod), grpc::StubOptions(), &request,
                 &response, [&](grpc::Status result) {
                   std::lock_guard<std::mutex> lock(mutex);
                   call_status = std::move(result);
                   finished = true;
                   done.notify_one();
                 });
  {
    std::unique_lock<std::mutex> lock(mutex);
    done.wait(lock, [&] { return finished; });
  }

  if (!call_status.ok()) return ToAbslStatus(call_status);
  return DecodeHealthCheckResponse(ToBytes(response));
}

}  // namespace agentauth
