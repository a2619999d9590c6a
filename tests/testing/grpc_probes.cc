#include "tests/testing/grpc_probes.h"

#include <grpcpp/support/byte_buffer.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"

namespace agentauth::testing {
namespace {

// HealthCheckRequest{service = `service`}: field 1, length-delimited.
std::string HealthRequestBytes(const std::string& service) {
  return absl::StrCat(std::string(1, '\x0a'), std::string(1, static_cast<char>(service.size())),
                      service);
}

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
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  const std::string request_bytes = HealthRequestBytes(service);
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;

  std::mutex mutex;
  std::condition_variable done;
  bool finished = false;
  grpc::Status status;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status result) {
                   std::lock_guard<std::mutex> lock(mutex);
                   status = std::move(result);
                   finished = true;
                   done.notify_one();
                 });
  std::unique_lock<std::mutex> lock(mutex);
  done.wait(lock, [&] { return finished; });
  if (!status.ok()) {
    if (error != nullptr) *error = status;
    return -1;
  }
  // HealthCheckResponse{status = N}: field 1, varint.
  const std::string bytes = ToString(response);
  return bytes.size() == 2 && bytes[0] == '\x08' ? bytes[1] : 0;
}

HealthWatch::HealthWatch(const std::shared_ptr<grpc::Channel>& channel, const std::string& service)
    : stub_(channel) {
  const std::string bytes = HealthRequestBytes(service);
  grpc::Slice slice(bytes);
  request_ = grpc::ByteBuffer(&slice, 1);
  // A server-streaming method, called as a stream in both directions with a single request.
  stub_.PrepareBidiStreamingCall(&context_, "/grpc.health.v1.Health/Watch", grpc::StubOptions(),
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
  const std::string bytes = ToString(response_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    seen_.push_back(bytes.size() == 2 && bytes[0] == '\x08' ? bytes[1] : 0);
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
