// Prints an Authorization header from agentauth. Run against `make demo`:
//   build/client/agentauth_fetch_token_example 127.0.0.1:50051 demo
#include <cstdio>
#include <memory>

#include "client/token_source.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s TARGET CLIENT\n", argv[0]);
    return 2;
  }
  auto client = std::make_shared<agentauth::Client>(argv[1]);
  agentauth::TokenSource source(client, {.token = {.client = argv[2]}});

  // Asks the daemon once, then answers from memory until 60 s before the token expires.
  absl::StatusOr<std::string> header = source.Authorization();
  if (!header.ok()) {
    std::fprintf(stderr, "%s\n", header.status().ToString().c_str());
    return 1;
  }
  std::printf("Authorization: %s\n", header->c_str());
  // For gRPC: grpc::CompositeChannelCredentials(tls, agentauth::TokenCallCredentials(source)).
  return 0;
}
