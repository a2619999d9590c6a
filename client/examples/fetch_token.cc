// Prints an Authorization header from agentauth. Run against `make demo`:
//   build/client/agentauth_fetch_token_example 127.0.0.1:50051 demo
#include <cstdio>
#include <memory>

#include "client/token_source.h"

int main(int argc, char** argv) {
  if (argc != 3) return std::fprintf(stderr, "usage: %s TARGET CLIENT\n", argv[0]), 2;
  auto client = std::make_shared<agentauth::Client>(argv[1]);
  agentauth::TokenSource source(client, {.token = {.client = argv[2]}});

  absl::StatusOr<std::string> header = source.Authorization();  // cached until 60 s before expiry
  if (!header.ok()) return std::fprintf(stderr, "%s\n", header.status().ToString().c_str()), 1;
  std::printf("Authorization: %s\n", header->c_str());
  // For gRPC calls: grpc::CompositeChannelCredentials(tls, agentauth::TokenCallCredentials(src)).
  return 0;
}
