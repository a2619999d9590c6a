// The assembled daemon: cache, provider client and gRPC service on one listener. main() and the
// integration tests build it the same way, with the clock and HTTP client they choose.
#pragma once

#include <grpcpp/server.h>
#include <prometheus/exposer.h>

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
#include "server/metrics/collectors.h"
#include "server/metrics/metrics.h"
#include "server/provider/provider_client.h"
#include "server/service/token_service.h"

namespace agentauth {

struct ServerOptions {
  std::string version = "dev";
  // Serve grpc.reflection.v1alpha so that generic gRPC tools can list and call the service.
  bool enable_reflection = true;
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
  // Where /metrics is served ("127.0.0.1:9464"), empty when metrics are off.
  const std::string& metrics_address() const { return metrics_address_; }
  const Metrics& metrics() const { return metrics_; }

  // See TokenServiceImpl::Ready.
  bool Ready() const { return service_.Ready(); }

  // Re-reads every secret file now instead of at the next check. Returns how many changed.
  int CheckSecretsNow() { return secret_watcher_.CheckNow(); }

  // Applies a new configuration's clients (SIGHUP): added ones are prewarmed, removed ones
  // forgotten, changed ones start afresh, unchanged ones keep their cached tokens. Server-wide
  // settings (listen, metrics_listen, max_concurrent_fetches, prewarm, secret_check_interval)
  // need a restart; a change to them is logged and otherwise ignored. Counted in
  // agentauth_config_reloads_total.
  void Reload(const Config& config);

  // Counts a reload that failed before it reached the server (an invalid file).
  void CountFailedReload() { metrics_.ConfigReload(false); }

  // Drains: health turns NOT_SERVING, new calls are refused, calls in flight get until `grace`
  // to finish and are cancelled after; then waits for provider requests in flight and drops
  // queued ones. REQUIRES: the scheduler was shut down first, or plans no more work.
  // Idempotent.
  void Shutdown(absl::Duration grace);

 private:
  AgentAuthServer(std::shared_ptr<const Config> config, const ServerOptions& options,
                  const ServerDependencies& deps);

  void OnSecretRotated(const ClientConfig& old_client, const ClientConfig& new_client);
  absl::Status StartMetrics();
  std::vector<ClientGauges> ClientStates() const;
  // Turns health SERVING once the service is ready, unless draining.
  void UpdateHealth();

  std::shared_ptr<const Config> config_;
  const ServerDependencies deps_;
  Metrics metrics_;
  ClientRegistry registry_;
  ThreadPoolExecutor fetch_pool_;
  ProviderClient provider_;
  TokenCache cache_;
  TokenServiceImpl service_;
  SecretWatcher secret_watcher_;
  std::shared_ptr<ClientStateCollector> client_state_collector_;
  std::shared_ptr<ProcessCollector> process_collector_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::string metrics_address_;
  std::mutex health_mutex_;
  bool draining_ ABSL_GUARDED_BY(health_mutex_) = false;
  bool serving_ ABSL_GUARDED_BY(health_mutex_) = false;
  // Clients found ready so far during start-up, in configuration order (see ReadyFrom).
  size_t ready_clients_seen_ ABSL_GUARDED_BY(health_mutex_) = 0;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  bool shut_down_ = false;
};

}  // namespace agentauth
