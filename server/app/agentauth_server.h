// The assembled daemon: cache, provider client, caller checks and the gRPC service on its
// listeners. main() and the integration tests build it the same way, with the clock and HTTP
// client they choose.
#pragma once

#include <grpcpp/server.h>
#include <prometheus/exposer.h>

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/cache/token_cache.h"
#include "server/callers/caller_authenticator.h"
#include "server/callers/rate_limiter.h"
#include "server/callers/service_account_verifier.h"
#include "server/callers/unix_listener.h"
#include "server/clients/client_registry.h"
#include "server/clients/secret_watcher.h"
#include "server/common/clock.h"
#include "server/common/executor.h"
#include "server/common/logging.h"
#include "server/common/random.h"
#include "server/common/scheduler.h"
#include "server/config/config.h"
#include "server/http/http_client.h"
#include "server/metrics/caller_metrics.h"
#include "server/metrics/collectors.h"
#include "server/metrics/metrics.h"
#include "server/provider/provider_client.h"
#include "server/service/caller_gate.h"
#include "server/service/token_service.h"

namespace agentauth {

struct ServerOptions {
  std::string version = "dev";
  // Serve grpc.reflection.v1alpha so that generic gRPC tools can list and call the service.
  bool enable_reflection = true;
  // Start even though a listener is reachable beyond this machine while some client is open
  // to every caller (--insecure-allow-any-caller). Logged as a warning at every start.
  bool insecure_allow_any_caller = false;
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
  // Builds everything, starts listening on config.listeners and starts prewarming. UNAVAILABLE
  // when an address cannot be bound; FAILED_PRECONDITION when a listener is reachable beyond
  // this machine while a client is open to every caller, unless
  // options.insecure_allow_any_caller.
  static absl::StatusOr<std::unique_ptr<AgentAuthServer>> Start(Config config,
                                                                const ServerOptions& options,
                                                                const ServerDependencies& deps);
  ~AgentAuthServer();

  // The address callers use, with the port the system chose when config.listen ends in ":0":
  // the first listener's.
  const std::string& address() const { return addresses_.front(); }
  // Every listener's address, in config order, ports resolved.
  const std::vector<std::string>& addresses() const { return addresses_; }
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
  // agentauth_config_reloads_total. FAILED_PRECONDITION (and nothing changes) when the new
  // clients would open a client to every caller on a listener reachable beyond this machine.
  absl::Status Reload(const Config& config);

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
  absl::Status StartListeners(const ServerOptions& options);
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
  CallerMetrics caller_metrics_;
  UnixPeerRegistry unix_peers_;
  std::unique_ptr<ServiceAccountVerifier> service_account_verifier_;
  CallerAuthenticator authenticator_;
  PerCallerRateLimiter force_refresh_limiter_;
  CallerGate caller_gate_;
  const bool insecure_allow_any_caller_;
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
  // Stopped before server_ so that no connection is handed to a stopping server.
  std::vector<std::unique_ptr<UnixSocketListener>> unix_listeners_;
  std::vector<std::string> addresses_;
  bool shut_down_ = false;
};

}  // namespace agentauth
