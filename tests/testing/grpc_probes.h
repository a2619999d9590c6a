// Calling the standard gRPC services of a server without generated code: Debian ships neither
// health.proto nor reflection.proto, and copying them would vendor third-party code. The health
// messages are encoded by the client library (client/health_check.h), which the `agentauth
// health` command uses too; the one reflection request is written out here.
#pragma once

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "client/health_check.h"

namespace agentauth::testing {

// grpc.health.v1.HealthCheckResponse.ServingStatus, as ints for the tests' comparisons.
inline constexpr int kServing = static_cast<int>(ServingStatus::kServing);
inline constexpr int kNotServing = static_cast<int>(ServingStatus::kNotServing);

// Calls grpc.health.v1.Health/Check for `service`. Returns the ServingStatus, or -1 with the
// call's status in `error`.
int HealthCheck(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                grpc::Status* error = nullptr);

// Watches grpc.health.v1.Health/Watch for `service`, collecting every status the server sends.
class HealthWatch : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  HealthWatch(const std::shared_ptr<grpc::Channel>& channel, const std::string& service);
  ~HealthWatch() override;

  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

  // Waits until the server has sent `status`; false if the stream ended first or 30 s passed.
  bool WaitFor(int status);

 private:
  grpc::GenericStub stub_;
  grpc::ClientContext context_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<int> seen_;
  bool finished_ = false;
};

// Asks grpc.reflection.v1alpha.ServerReflection for the list of services.
class ListServicesCall : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  explicit ListServicesCall(const std::shared_ptr<grpc::Channel>& channel);

  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

  // Waits for the call to end; `answer` gets the raw response bytes, which hold the names.
  grpc::Status Await(std::string* answer);

 private:
  grpc::GenericStub stub_;
  grpc::ClientContext context_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  std::string answer_;
  std::mutex mutex_;
  std::condition_variable done_;
  bool finished_ = false;
  grpc::Status status_;
};

}  // namespace agentauth::testing
