#include "server/app/agentauth_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpcpp/server_builder.h>
#include <prometheus/exposer.h>

#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/app/tls_files.h"
#include "server/callers/caller_policy.h"
#include "server/common/tsan_handoff.h"

namespace agentauth {
namespace {

// How often TLS certificate files are checked for a rotation.
// TODO(tls): no test replaces the files and waits for the new certificate to be served; the
// reload is gRPC's FileWatcherCertificateProvider, untested here.
constexpr unsigned int kCertificateCheckSeconds = 30;

std::shared_ptr<grpc::ServerCredentials> CredentialsFor(const ListenerConfig& listener) {
  if (!listener.tls) return grpc::InsecureServerCredentials();
  const ListenerTlsConfig& tls = *listener.tls;
  // The provider re-reads the files, so a renewed certificate (cert-manager, a Secret update)
  // is served without a restart.
  auto certificates = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      tls.key_file, tls.cert_file, tls.client_ca_file, kCertificateCheckSeconds);
  grpc::experimental::TlsServerCredentialsOptions options(certificates);
  options.watch_identity_key_cert_pairs();
  if (tls.client_ca_file.empty()) {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

std::string Describe(const ListenerConfig& listener, const std::string& address) {
  if (listener.IsUnix()) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", listener.socket_mode.value_or(kDefaultSocketMode));
    return absl::StrCat(address, " (mode ", mode, ")");
  }
  if (!listener.tls) return address;
  return absl::StrCat(address, listener.tls->client_ca_file.empty() ? " (tls)" : " (mtls)");
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

// Every client that may use plain http beyond loopback, at start-up and on each reload: its
// credentials and tokens may cross a network in clear text.
void WarnAboutInsecureHttp(const std::vector<ClientConfig>& clients, Logger& logger) {
  for (const ClientConfig& client : clients) {
    if (!client.allow_insecure_http) continue;
    logger.Warning("config", "insecure_http_allowed",
                   {{"client", client.name},
                    {"authority", client.authority},
                    {"risk",
                     "allow_insecure_http lets credentials and tokens travel unencrypted to "
                     "a provider beyond this machine"}});
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
      provider_(deps.http, deps.clock, deps.logger, metrics_, deps.random),
      // A quarter of the pool per client: a client whose provider hangs keeps at most that many
      // threads, and the others keep the rest.
      cache_(deps.clock, fetch_pool_, deps.scheduler, deps.random, deps.logger, metrics_,
             std::max<size_t>(1, static_cast<size_t>(config_->max_concurrent_fetches) / 4)),
      caller_metrics_(*metrics_.registry()),
      service_account_verifier_(config_->caller_auth.kubernetes
                                    ? std::make_unique<ServiceAccountVerifier>(
                                          *config_->caller_auth.kubernetes, deps.http, deps.clock,
                                          deps.logger, deps.secrets.read_file)
                                    : nullptr),
      authenticator_(unix_peers_, service_account_verifier_.get()),
      force_refresh_limiter_(config_->limits.force_refresh_per_caller,
                             config_->limits.force_refresh_per, deps.clock),
      caller_gate_(authenticator_, force_refresh_limiter_, deps.logger, caller_metrics_),
      insecure_allow_any_caller_(options.insecure_allow_any_caller),
      service_(config_, registry_, cache_, provider_, deps.clock, deps.logger, metrics_,
               caller_gate_, ServerInfo{options.version, deps.clock.Now()}),
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

absl::Status AgentAuthServer::StartListeners(const ServerOptions& options) {
  for (const ListenerConfig& listener : config_->listeners) {
    if (absl::Status files = CheckListenerTlsFiles(listener); !files.ok()) return files;
  }
  // Unix sockets first: a live or foreign file at the path stops the start before any port.
  for (const ListenerConfig& listener : config_->listeners) {
    if (!listener.IsUnix()) continue;
    absl::StatusOr<std::unique_ptr<UnixSocketListener>> bound = UnixSocketListener::Bind(
        listener.UnixPath(), listener.socket_mode.value_or(kDefaultSocketMode), deps_.logger);
    if (!bound.ok()) return bound.status();
    unix_listeners_.push_back(*std::move(bound));
  }

  // Both are process-wide switches that must be set before the first ServerBuilder.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  grpc::ServerBuilder builder;
  if (!options.enable_reflection) builder.SetOption(std::make_unique<WithoutReflection>());
  // Without this, a second agentauthd on the same port would silently share it (SO_REUSEPORT)
  // and callers would get answers from two configs.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(static_cast<int>(config_->limits.max_request_bytes));
  std::vector<int> ports(config_->listeners.size(), 0);
  for (size_t i = 0; i < config_->listeners.size(); ++i) {
    const ListenerConfig& listener = config_->listeners[i];
    if (!listener.IsUnix()) {
      builder.AddListeningPort(listener.address, CredentialsFor(listener), &ports[i]);
    }
  }
  builder.RegisterService(&service_);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config_->listen, ": the address is in use or not local"));
  }
  for (size_t i = 0; i < config_->listeners.size(); ++i) {
    const ListenerConfig& listener = config_->listeners[i];
    if (listener.IsUnix()) {
      addresses_.push_back(listener.address);
      continue;
    }
    if (ports[i] == 0) {
      return absl::UnavailableError(absl::StrCat("cannot listen on ", listener.address,
                                                 ": the address is in use or not local"));
    }
    addresses_.push_back(
        absl::StrCat(listener.address.substr(0, listener.address.rfind(':')), ":", ports[i]));
  }
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  health->SetServingStatus("", false);
  health->SetServingStatus(kServiceName, false);
  for (const std::unique_ptr<UnixSocketListener>& listener : unix_listeners_) {
    listener->Start(*server_, unix_peers_);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<AgentAuthServer>> AgentAuthServer::Start(
    Config config, const ServerOptions& options, const ServerDependencies& deps) {
  if (absl::Status exposure = CheckNoClientOpenBeyondLoopback(config); !exposure.ok()) {
    if (!options.insecure_allow_any_caller) return exposure;
    deps.logger.Warning("server", "insecure_allow_any_caller",
                        {{"risk", std::string(exposure.message())},
                         {"detail",
                          "started with --insecure-allow-any-caller: anyone who reaches the "
                          "listener gets the tokens of the open clients"}});
  }
  auto shared_config = std::make_shared<const Config>(std::move(config));
  std::unique_ptr<AgentAuthServer> server(new AgentAuthServer(shared_config, options, deps));

  if (absl::Status metrics = server->StartMetrics(); !metrics.ok()) return metrics;
  if (absl::Status listening = server->StartListeners(options); !listening.ok()) return listening;
  if (server->service_account_verifier_ != nullptr) {
    // Keys now, so that the first caller does not wait; a failure is retried on use.
    if (absl::Status keys = server->service_account_verifier_->Refresh(); keys.ok()) {
      deps.logger.Info("callers", "jwks_loaded",
                       {{"issuer", shared_config->caller_auth.kubernetes->issuer}});
    }
  }

  std::vector<std::string> names;
  for (const ClientConfig& client : shared_config->clients) names.push_back(client.name);
  std::vector<std::string> listeners;
  for (size_t i = 0; i < shared_config->listeners.size(); ++i) {
    listeners.push_back(Describe(shared_config->listeners[i], server->addresses_[i]));
  }
  deps.logger.Info(
      "server", "listening",
      {{"address", server->address()},
       {"listeners", absl::StrJoin(listeners, ", ")},
       {"metrics", server->metrics_address_.empty()
                       ? "off"
                       : absl::StrCat("http://", server->metrics_address_, "/metrics")},
       {"version", options.version},
       {"clients", absl::StrJoin(names, ",")},
       {"prewarm", shared_config->prewarm ? "on" : "off"},
       {"reflection", options.enable_reflection ? "on" : "off"}});
  WarnAboutInsecureHttp(shared_config->clients, deps.logger);
  AgentAuthServer* raw = server.get();
  server->cache_.SetFetchObserver([raw] { raw->UpdateHealth(); });
  server->service_.Prewarm();
  server->UpdateHealth();
  server->secret_watcher_.Start();
  return server;
}

absl::Status AgentAuthServer::Reload(const Config& config) {
  // The listeners stay as they are, so the check is of the new clients on the old listeners.
  Config effective = config;
  effective.listeners = config_->listeners;
  if (absl::Status exposure = CheckNoClientOpenBeyondLoopback(effective);
      !exposure.ok() && !insecure_allow_any_caller_) {
    metrics_.ConfigReload(false);
    deps_.logger.Error("config", "reload_failed",
                       {{"cause", std::string(exposure.message())},
                        {"action", "kept the previous configuration"}});
    return exposure;
  }
  const bool restart_needed =
      config.listeners != config_->listeners || config.caller_auth != config_->caller_auth ||
      config.limits != config_->limits || config.metrics_listen != config_->metrics_listen ||
      config.max_concurrent_fetches != config_->max_concurrent_fetches ||
      config.prewarm != config_->prewarm ||
      config.secret_check_interval != config_->secret_check_interval;
  if (restart_needed) {
    deps_.logger.Warning("config", "restart_needed",
                         {{"detail",
                           "listen(ers), caller_auth, limits, metrics_listen, "
                           "max_concurrent_fetches, prewarm and secret_check_interval change "
                           "only on restart; the clients were reloaded"}});
  }

  WarnAboutInsecureHttp(config.clients, deps_.logger);
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
  return absl::OkStatus();
}

AgentAuthServer::~AgentAuthServer() { Shutdown(absl::ZeroDuration()); }

void AgentAuthServer::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;

  // No new Unix connection may reach a server that is stopping.
  unix_listeners_.clear();
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
