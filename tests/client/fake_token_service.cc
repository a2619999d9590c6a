#include "tests/client/fake_token_service.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace agentauth::testing {
namespace {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

}  // namespace

FakeTokenService::~FakeTokenService() { ReleaseTokenCalls(); }

void FakeTokenService::AnswerTokenWith(v1::GetAccessTokenResponse response) {
  std::lock_guard<std::mutex> lock(mutex_);
  token_error_ = absl::OkStatus();
  token_response_ = std::move(response);
}

void FakeTokenService::FailTokenWith(absl::Status error) {
  std::lock_guard<std::mutex> lock(mutex_);
  token_error_ = std::move(error);
}

void FakeTokenService::AnswerStatusWith(v1::GetStatusResponse response) {
  std::lock_guard<std::mutex> lock(mutex_);
  status_error_ = absl::OkStatus();
  status_response_ = std::move(response);
}

void FakeTokenService::FailStatusWith(absl::Status error) {
  std::lock_guard<std::mutex> lock(mutex_);
  status_error_ = std::move(error);
}

void FakeTokenService::HoldTokenCalls() {
  std::lock_guard<std::mutex> lock(mutex_);
  hold_token_calls_ = true;
}

void FakeTokenService::ReleaseTokenCalls() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    hold_token_calls_ = false;
  }
  token_calls_released_.notify_all();
}

std::vector<ReceivedTokenCall> FakeTokenService::token_calls() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return token_calls_;
}

std::vector<v1::GetStatusRequest> FakeTokenService::status_requests() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return status_requests_;
}

grpc::Status FakeTokenService::GetAccessToken(grpc::ServerContext* context,
                                              const v1::GetAccessTokenRequest* request,
                                              v1::GetAccessTokenResponse* response) {
  std::unique_lock<std::mutex> lock(mutex_);
  std::string authorization;
  if (const auto found = context->client_metadata().find("authorization");
      found != context->client_metadata().end()) {
    authorization.assign(found->second.data(), found->second.size());
  }
  token_calls_.push_back({*request, context->deadline(), std::move(authorization)});
  token_calls_released_.wait(lock, [this] { return !hold_token_calls_; });

  if (!token_error_.ok()) return ToGrpcStatus(token_error_);
  *response = token_response_;
  return grpc::Status::OK;
}

grpc::Status FakeTokenService::GetStatus(grpc::ServerContext* /*context*/,
                                         const v1::GetStatusRequest* request,
                                         v1::GetStatusResponse* response) {
  std::lock_guard<std::mutex> lock(mutex_);
  status_requests_.push_back(*request);

  if (!status_error_.ok()) return ToGrpcStatus(status_error_);
  *response = status_response_;
  return grpc::Status::OK;
}

absl::StatusOr<std::unique_ptr<FakeTokenServer>> FakeTokenServer::Start() {
  std::unique_ptr<FakeTokenServer> server(new FakeTokenServer());
  int port = 0;
  // gRPC's own grpc.health.v1 service, as the daemon has it, for the health command's tests.
  // The switch is process-wide and only read by servers built after it.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&server->service_);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || port == 0) {
    return absl::UnavailableError("the fake TokenService cannot listen on 127.0.0.1");
  }
  server->target_ = absl::StrCat("127.0.0.1:", port);
  return server;
}

grpc::HealthCheckServiceInterface& FakeTokenServer::health() {
  return *server_->GetHealthCheckService();
}

FakeTokenServer::~FakeTokenServer() {
  service_.ReleaseTokenCalls();
  server_->Shutdown();
}

absl::StatusOr<int> UnusedLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket");
  absl::Cleanup close_socket = [fd] { close(fd); };

  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return absl::ErrnoToStatus(errno, "bind 127.0.0.1:0");
  }
  socklen_t length = sizeof(address);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return absl::ErrnoToStatus(errno, "getsockname");
  }
  return ntohs(address.sin_port);
}

}  // namespace agentauth::testing
