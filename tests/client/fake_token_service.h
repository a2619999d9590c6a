// A scripted TokenService on a real gRPC server, for the tests of the client and the CLI.

#ifndef AGENTAUTH_TESTS_CLIENT_FAKE_TOKEN_SERVICE_H_
#define AGENTAUTH_TESTS_CLIENT_FAKE_TOKEN_SERVICE_H_

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agentauth/v1/token_service.grpc.pb.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server.h"

namespace agentauth::testing {

// A GetAccessToken call as the service received it.
struct ReceivedTokenCall {
  v1::GetAccessTokenRequest request;
  std::chrono::system_clock::time_point deadline;
  // The call's `authorization` metadata; empty when it had none.
  std::string authorization;
};

// Answers every call from what the test scripted and records the requests. Answers OK with
// empty messages until scripted. Thread-safe.
class FakeTokenService final : public v1::TokenService::Service {
 public:
  ~FakeTokenService() override;

  // GetAccessToken answers `response` from now on.
  void AnswerTokenWith(v1::GetAccessTokenResponse response);
  // GetAccessToken fails with `error` from now on. REQUIRES: !error.ok().
  void FailTokenWith(absl::Status error);
  void AnswerStatusWith(v1::GetStatusResponse response);
  void FailStatusWith(absl::Status error);

  // Makes GetAccessToken calls wait until ReleaseTokenCalls() (or the destructor) before they
  // answer, so that a test can watch a caller's deadline pass.
  void HoldTokenCalls();
  void ReleaseTokenCalls();

  std::vector<ReceivedTokenCall> token_calls() const;
  std::vector<v1::GetStatusRequest> status_requests() const;

  grpc::Status GetAccessToken(grpc::ServerContext* context,
                              const v1::GetAccessTokenRequest* request,
                              v1::GetAccessTokenResponse* response) override;
  grpc::Status GetStatus(grpc::ServerContext* context, const v1::GetStatusRequest* request,
                         v1::GetStatusResponse* response) override;

 private:
  // std::mutex rather than absl::Mutex: ThreadSanitizer cannot see inside Debian's prebuilt
  // absl::Mutex and would report races through it (DESIGN.md, "Locks").
  mutable std::mutex mutex_;
  // Signalled when hold_token_calls_ becomes false.
  std::condition_variable token_calls_released_;
  absl::Status token_error_ ABSL_GUARDED_BY(mutex_);
  v1::GetAccessTokenResponse token_response_ ABSL_GUARDED_BY(mutex_);
  absl::Status status_error_ ABSL_GUARDED_BY(mutex_);
  v1::GetStatusResponse status_response_ ABSL_GUARDED_BY(mutex_);
  bool hold_token_calls_ ABSL_GUARDED_BY(mutex_) = false;
  std::vector<ReceivedTokenCall> token_calls_ ABSL_GUARDED_BY(mutex_);
  std::vector<v1::GetStatusRequest> status_requests_ ABSL_GUARDED_BY(mutex_);
};

// A gRPC server on 127.0.0.1, on a port the system picked, serving a FakeTokenService and
// gRPC's default grpc.health.v1 service (service "" SERVING until told otherwise).
class FakeTokenServer {
 public:
  // Returns UNAVAILABLE when the server cannot listen.
  static absl::StatusOr<std::unique_ptr<FakeTokenServer>> Start();

  // Stops serving; calls still held by the service are released first.
  ~FakeTokenServer();

  FakeTokenService& service() { return service_; }
  // The server's health service, to set what grpc.health.v1.Health/Check answers.
  grpc::HealthCheckServiceInterface& health();
  // "127.0.0.1:<port>": a gRPC target for the server.
  const std::string& target() const { return target_; }

 private:
  FakeTokenServer() = default;

  FakeTokenService service_;
  std::unique_ptr<grpc::Server> server_;
  std::string target_;
};

// A TCP port on 127.0.0.1 that nobody listens on, to stand for an unreachable daemon. The
// system picked it and it was closed again, so no one else is likely to take it meanwhile.
absl::StatusOr<int> UnusedLoopbackPort();

}  // namespace agentauth::testing

#endif  // AGENTAUTH_TESTS_CLIENT_FAKE_TOKEN_SERVICE_H_
