// The assembled daemon: cache, provider client and gRPC service on one listener. main() and the
// integration tests build it the same way, with the clock and HTTP client they choose.
#pragma once

#include <grpcpp/server.h>

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/cache/token_cache.h"
#include "server/clients/client_registry.h"
#include "server/clients/secret_watcher.h"
#include "server/common/clock.h"
#include "server/common/executor.h"
#include "server/common/logging.h"
#include "server/common/random.h"
#include "server/common/scheduler.h"
#include "server/config/config.h"
#include "server/http/http_client.h"
#include "server/provider/provider_client.h"
#include "server/service/token_service.h"

namespace agentauth {

struct ServerOptions {
  std::string version = "dev";
};

// Borrowed collaborators; all must outlive the server.
struct ServerDependencies {
  const Clock& clock;
  Logger& logger;
  HttpClient& http;
  // Plans background renewals and retries on `clock`.
  Scheduler& scheduler;
  Random& random;
  // Re-reads secret files to notice rotations.
  SecretSources secrets;
};

class AgentAuthServer {
 public:
  // Builds everything, starts listening on config.listen and starts prewarming. UNAVAILABLE
  // when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<AgentAuthServer>> Start(Config config,
                                                                const ServerOptions& options,
                                                                const ServerDependencies& deps);
  ~AgentAuthServer();

  // The address callers use, with the port the system chose when config.listen ends in ":0".
  const std::string& address() const { return address_; }

  // See TokenServiceImpl::Ready.
  bool Ready() const { return service_.Ready(); }

  // Re-reads every secret file now instead of at the next check. Returns how many changed.
  int CheckSecretsNow() { return secret_watcher_.CheckNow(); }

  // Stops accepting calls, cancels those still waiting after `grace`, and waits for provider
  // requests in flight. REQUIRES: the scheduler was shut down first, or plans no more work.
  // Idempotent.
  void Shutdown(absl::Duration grace);

 private:
  AgentAuthServer(std::shared_ptr<const Config> config, const ServerOptions& options,
                  const ServerDependencies& deps);

  void OnSecretRotated(const ClientConfig& old_client, const ClientConfig& new_client);

  std::shared_ptr<const Config> config_;
  const ServerDependencies deps_;
  ClientRegistry registry_;
  ThreadPoolExecutor fetch_pool_;
  ProviderClient provider_;
  TokenCache cache_;
  TokenServiceImpl service_;
  SecretWatcher secret_watcher_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  bool shut_down_ = false;
};

}  // namespace agentauth
