#include "tests/testing/grpc_probes.h"

#include <grpcpp/support/byte_buffer.h>

#include <algorithm>
#include <vector>

#include "absl/status/statusor.h"

namespace agentauth::testing {
namespace {

std::string ToString(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  buffer.Dump(&slices);
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return bytes;
}

}  // namespace

int HealthCheck(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                grpc::Status* error) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));

  absl::StatusOr<ServingStatus> status = CallHealthCheck(channel, context, service);
  if (!status.ok()) {
    if (error != nullptr) {
      *error = grpc::Status(static_cast<grpc::StatusCode>(status.status().code()),
                            std::string(status.status().message()));
    }
    return -1;
  }
  return static_cast<int>(*status);
}

HealthWatch::HealthWatch(const std::shared_ptr<grpc::Channel>& channel, const std::string& service)
    : stub_(channel) {
  const std::string bytes = EncodeHealthCheckRequest(service);
  grpc::Slice slice(bytes);
  request_ = grpc::ByteBuffer(&slice, 1);
  // A server-streaming method, called as a stream in both directions with a single request.
  stub_.PrepareBidiStreamingCall(&context_, std::string(kHealthWatchMethod), grpc::StubOptions(),
                                 this);
  StartWrite(&request_);
  StartWritesDone();
  StartRead(&response_);
  StartCall();
}

HealthWatch::~HealthWatch() {
  context_.TryCancel();
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return finished_; });
}

void HealthWatch::OnReadDone(bool ok) {
  if (!ok) return;
  // An answer that is not a HealthCheckResponse counts as -1, which no WaitFor asks for.
  absl::StatusOr<ServingStatus> status = DecodeHealthCheckResponse(ToString(response_));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    seen_.push_back(status.ok() ? static_cast<int>(*status) : -1);
  }
  changed_.notify_all();
  StartRead(&response_);
}

void HealthWatch::OnDone(const grpc::Status& /*status*/) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    finished_ = true;
  }
  changed_.notify_all();
}

bool HealthWatch::WaitFor(int status) {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, std::chrono::seconds(30), [&] {
    return std::find(seen_.begin(), seen_.end(), status) != seen_.end() || finished_;
  }) && std::find(seen_.begin(), seen_.end(), status) != seen_.end();
}

ListServicesCall::ListServicesCall(const std::shared_ptr<grpc::Channel>& channel) : stub_(channel) {
  context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  // ServerReflectionRequest{list_services = ""}: field 7, length-delimited, empty.
  const std::string bytes("\x3a\x00", 2);
  grpc::Slice slice(bytes);
  request_ = grpc::ByteBuffer(&slice, 1);
  stub_.PrepareBidiStreamingCall(&context_,
                                 "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                 grpc::StubOptions(), this);
  StartWrite(&request_);
  StartWritesDone();
  StartRead(&response_);
  StartCall();
}

void ListServicesCall::OnReadDone(bool ok) {
  if (ok) answer_ += ToString(response_);
}

void ListServicesCall::OnDone(const grpc::Status& status) {
  std::lock_guard<std::mutex> lock(mutex_);
  status_ = status;
  finished_ = true;
  done_.notify_one();
}

grpc::Status ListServicesCall::Await(std::string* answer) {
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return finished_; });
  *answer = answer_;
  return status_;
}

}  // namespace agentauth::testing
