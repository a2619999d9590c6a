#include "server/app/agentauth_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <prometheus/exposer.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/common/tsan_handoff.h"
#include "server/http/url.h"

namespace agentauth {
namespace {

// A process answers on the socket: taking it over would cut that process off from its callers.
bool UnixSocketIsLive(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un address = {};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) {
    close(fd);
    return false;
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  const bool live = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return live;
}

bool IsLoopbackAddress(const std::string& address) {
  std::string host = address.substr(0, address.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return IsLoopbackHost(host);
}

constexpr char kServiceName[] = "agentauth.v1.TokenService";

// Linking gRPC's reflection library registers its plugin for every server of the process at
// load time; this option takes it out again for a server that should not offer reflection.
class WithoutReflection final : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments* /*arguments*/) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    plugins->erase(std::remove_if(plugins->begin(), plugins->end(),
                                  [](const std::unique_ptr<grpc::ServerBuilderPlugin>& plugin) {
                                    return plugin->name() == "proto_server_reflection";
                                  }),
                   plugins->end());
  }
};

std::string StateName(agentauth::v1::ClientState state) {
  switch (state) {
    case agentauth::v1::CLIENT_STATE_OK:
      return "ok";
    case agentauth::v1::CLIENT_STATE_REFRESHING:
      return "refreshing";
    case agentauth::v1::CLIENT_STATE_DEGRADED:
      return "degraded";
    case agentauth::v1::CLIENT_STATE_FAILING:
      return "failing";
    default:
      return "idle";
  }
}

}  // namespace

AgentAuthServer::AgentAuthServer(std::shared_ptr<const Config> config, const ServerOptions& options,
                                 const ServerDependencies& deps)
    : config_(std::move(config)),
      deps_(deps),
      metrics_(options.version),
      registry_(config_->clients),
      fetch_pool_(static_cast<size_t>(config_->max_concurrent_fetches)),
      provider_(deps.http, deps.clock, deps.logger, metrics_),
      // A quarter of the pool per client: a client whose provider hangs keeps at most that many
      // threads, and the others keep the rest.
      cache_(deps.clock, fetch_pool_, deps.scheduler, deps.random, deps.logger, metrics_,
             std::max<size_t>(1, static_cast<size_t>(config_->max_concurrent_fetches) / 4)),
      service_(config_, registry_, cache_, provider_, deps.clock, deps.logger, metrics_,
               ServerInfo{options.version, deps.clock.Now()}),
      secret_watcher_(registry_, deps.secrets, deps.scheduler, deps.clock, deps.logger,
                      config_->secret_check_interval,
                      [this](const ClientConfig& old_client, const ClientConfig& new_client) {
                        OnSecretRotated(old_client, new_client);
                      }),
      client_state_collector_(
          std::make_shared<ClientStateCollector>([this] { return ClientStates(); })),
      process_collector_(std::make_shared<ProcessCollector>()) {}

void AgentAuthServer::OnSecretRotated(const ClientConfig& /*old_client*/,
                                      const ClientConfig& new_client) {
  // Tokens of the old secret are never served again, and a rejection of the old secret no
  // longer holds callers back.
  cache_.RetireOtherCredentials(new_client.name, new_client.credential_fingerprint);
  cache_.ClearFailureWaits(new_client.name);
  service_.PrewarmClient(registry_.Find(new_client.name));
}

std::vector<ClientGauges> AgentAuthServer::ClientStates() const {
  const absl::Time now = deps_.clock.Now();
  std::vector<ClientGauges> states;
  for (const std::shared_ptr<const ClientConfig>& client : registry_.All()) {
    const agentauth::v1::ClientStatus status = service_.StatusOf(*client, now);
    ClientGauges gauges;
    gauges.client = client->name;
    const auto to_time = [](const google::protobuf::Timestamp& timestamp) {
      return absl::FromUnixSeconds(timestamp.seconds()) + absl::Nanoseconds(timestamp.nanos());
    };
    if (status.has_expires_at()) {
      gauges.expiry_seconds = absl::ToDoubleSeconds(to_time(status.expires_at()) - now);
    }
    if (status.has_last_refresh()) {
      gauges.last_refresh_unix =
          absl::ToDoubleSeconds(to_time(status.last_refresh()) - absl::UnixEpoch());
    }
    gauges.consecutive_failures = status.consecutive_failures();
    gauges.state = StateName(status.state());
    if (std::optional<absl::Duration> age = provider_.DiscoveryAge(*client)) {
      gauges.discovery_age_seconds = absl::ToDoubleSeconds(*age);
    }
    states.push_back(std::move(gauges));
  }
  return states;
}

void AgentAuthServer::UpdateHealth() {
  std::lock_guard<std::mutex> lock(health_mutex_);
  if (server_ == nullptr || draining_ || serving_) return;
  // The full check confirms what the resumed one found, in case a client counted as ready
  // earlier (one whose secret rotated meanwhile) is no longer.
  if (!service_.ReadyFrom(ready_clients_seen_) || !service_.Ready()) return;

  serving_ = true;
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  health->SetServingStatus("", true);
  health->SetServingStatus(kServiceName, true);
  deps_.logger.Info("server", "ready",
                    {{"detail",
                      "every client has a token or failed "
                      "definitively; health is SERVING"}});
}

absl::Status AgentAuthServer::StartMetrics() {
  if (config_->metrics_listen.empty()) return absl::OkStatus();
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(config_->metrics_listen);
  } catch (const std::exception& error) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", config_->metrics_listen, ": ", error.what()));
  }
  exposer_->RegisterCollectable(metrics_.registry());
  exposer_->RegisterCollectable(client_state_collector_);
  exposer_->RegisterCollectable(process_collector_);

  const std::vector<int> ports = exposer_->GetListeningPorts();
  const std::string& listen = config_->metrics_listen;
  metrics_address_ =
      absl::StrCat(listen.substr(0, listen.rfind(':')), ":", ports.empty() ? 0 : ports.front());
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<AgentAuthServer>> AgentAuthServer::Start(
    Config config, const ServerOptions& options, const ServerDependencies& deps) {
  auto shared_config = std::make_shared<const Config>(std::move(config));
  std::unique_ptr<AgentAuthServer> server(new AgentAuthServer(shared_config, options, deps));

  const bool is_unix = absl::StartsWith(shared_config->listen, "unix:");
  if (is_unix && UnixSocketIsLive(shared_config->listen.substr(5))) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", shared_config->listen,
                                               ": another process is serving on that socket"));
  }
  if (absl::Status metrics = server->StartMetrics(); !metrics.ok()) return metrics;

  // Both are process-wide switches that must be set before the first ServerBuilder.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  int selected_port = 0;
  grpc::ServerBuilder builder;
  if (!options.enable_reflection) builder.SetOption(std::make_unique<WithoutReflection>());
  // Without this, a second agentauthd on the same port would silently share it (SO_REUSEPORT)
  // and callers would get answers from two configs.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // TODO(security): caller authentication and TLS listeners arrive with the security issue;
  // until then the config only allows what the operator chose, loopback by default.
  builder.AddListeningPort(shared_config->listen, grpc::InsecureServerCredentials(),
                           &selected_port);
  builder.RegisterService(&server->service_);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || (!is_unix && selected_port == 0)) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", shared_config->listen,
                                               ": the address is in use or not local"));
  }
  grpc::HealthCheckServiceInterface* health = server->server_->GetHealthCheckService();
  health->SetServingStatus("", false);
  health->SetServingStatus(kServiceName, false);

  server->address_ = shared_config->listen;
  if (!is_unix) {
    server->address_ = absl::StrCat(
        shared_config->listen.substr(0, shared_config->listen.rfind(':')), ":", selected_port);
  }
  std::vector<std::string> names;
  for (const ClientConfig& client : shared_config->clients) names.push_back(client.name);
  deps.logger.Info(
      "server", "listening",
      {{"address", server->address_},
       {"metrics", server->metrics_address_.empty()
                       ? "off"
                       : absl::StrCat("http://", server->metrics_address_, "/metrics")},
       {"version", options.version},
       {"clients", absl::StrJoin(names, ",")},
       {"prewarm", shared_config->prewarm ? "on" : "off"},
       {"reflection", options.enable_reflection ? "on" : "off"}});
  if (!is_unix && !IsLoopbackAddress(server->address_)) {
    // TODO(security): caller authentication (the security issue) will refuse this instead.
    deps.logger.Warning("server", "listening_beyond_loopback",
                        {{"address", server->address_},
                         {"risk",
                          "any process that reaches this address gets every client's "
                          "tokens; there is no caller authentication yet"}});
  }
  AgentAuthServer* raw = server.get();
  server->cache_.SetFetchObserver([raw] { raw->UpdateHealth(); });
  server->service_.Prewarm();
  server->UpdateHealth();
  server->secret_watcher_.Start();
  return server;
}

void AgentAuthServer::Reload(const Config& config) {
  const bool restart_needed = config.listen != config_->listen ||
                              config.metrics_listen != config_->metrics_listen ||
                              config.max_concurrent_fetches != config_->max_concurrent_fetches ||
                              config.prewarm != config_->prewarm ||
                              config.secret_check_interval != config_->secret_check_interval;
  if (restart_needed) {
    deps_.logger.Warning("config", "restart_needed",
                         {{"detail",
                           "listen, metrics_listen, max_concurrent_fetches, prewarm "
                           "and secret_check_interval change only on restart; the "
                           "clients were reloaded"}});
  }

  const ClientRegistry::Changes changes = registry_.ReplaceAll(config.clients);
  for (const std::vector<std::string>* names : {&changes.removed, &changes.changed}) {
    for (const std::string& name : *names) {
      // No fingerprint is empty: every key of the client goes.
      cache_.RetireOtherCredentials(name, "");
      cache_.ClearFailureWaits(name);
    }
  }
  for (const std::vector<std::string>* names : {&changes.added, &changes.changed}) {
    for (const std::string& name : *names) service_.PrewarmClient(registry_.Find(name));
  }
  metrics_.ConfigReload(true);
  deps_.logger.Info("config", "reloaded",
                    {{"added", absl::StrJoin(changes.added, ",")},
                     {"removed", absl::StrJoin(changes.removed, ",")},
                     {"changed", absl::StrJoin(changes.changed, ",")}});
}

AgentAuthServer::~AgentAuthServer() { Shutdown(absl::ZeroDuration()); }

void AgentAuthServer::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;

  if (server_ != nullptr) {
    {
      // Probes see NOT_SERVING first, so that load balancers stop sending new calls.
      std::lock_guard<std::mutex> lock(health_mutex_);
      draining_ = true;
      server_->GetHealthCheckService()->Shutdown();
    }
    server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
    server_->Wait();
    TsanAcquire(&metrics_);  // Every call's Finish, including the metrics it recorded.
  }
  // Provider requests still running are aborted, so that a hung provider cannot hold the exit
  // for its HTTP timeout; their waiters' calls are already cancelled. Queued ones are dropped.
  deps_.http.CancelAll();
  fetch_pool_.Shutdown();
}

}  // namespace agentauth
