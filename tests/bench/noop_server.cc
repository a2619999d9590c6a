// The baseline of the hot-path benchmark: a server of agentauth.v1.TokenService built with the
// same gRPC settings as agentauthd (callback API, health service, reflection, no port sharing)
// that answers every GetAccessToken with one constant token of the size the benchmark's provider
// issues. What it costs per call is what gRPC costs; agentauthd's excess over it is ours.
//
//   agentauth_bench_noop_server [--token-bytes N]
//
// Listens on a loopback port the system picks, prints {"event":"listening","address":...} on
// stderr like agentauthd's JSON log, and stops on SIGTERM or SIGINT.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agentauth/v1/token_service.grpc.pb.h"
#include "tests/bench/bench_provider.h"

namespace {

class NoopTokenService final : public agentauth::v1::TokenService::CallbackService {
 public:
  explicit NoopTokenService(size_t token_bytes) {
    const std::string token = agentauth::bench::BenchProvider::MakeToken(token_bytes, 1);
    answer_.set_access_token(token);
    answer_.set_token_type("Bearer");
    answer_.mutable_expires_at()->set_seconds(4102444800);  // 2100-01-01.
    answer_.add_scopes("bench.read");
    answer_.set_authorization(absl::StrCat("Bearer ", token));
  }

  grpc::ServerUnaryReactor* GetAccessToken(
      grpc::CallbackServerContext* context, const agentauth::v1::GetAccessTokenRequest* /*request*/,
      agentauth::v1::GetAccessTokenResponse* response) override {
    *response = answer_;
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  agentauth::v1::GetAccessTokenResponse answer_;
};

}  // namespace

int main(int argc, char** argv) {
  size_t token_bytes = 1024;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--token-bytes" && i + 1 < argc && absl::SimpleAtoi(argv[i + 1], &token_bytes)) {
      ++i;
      continue;
    }
    std::cerr << "usage: agentauth_bench_noop_server [--token-bytes N]\n";
    return 2;
  }

  // Blocked before gRPC starts its threads, so that only sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  NoopTokenService service(token_bytes);
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << "{\"event\":\"start_failed\",\"cause\":\"cannot listen on 127.0.0.1\"}\n";
    return 3;
  }
  server->GetHealthCheckService()->SetServingStatus("", true);
  std::cerr << "{\"event\":\"listening\",\"address\":\"127.0.0.1:" << port << "\"}" << std::endl;

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  server->Shutdown();
  return 0;
}
