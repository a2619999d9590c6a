#include "server/app/agentauth_server.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace agentauth {

AgentAuthServer::AgentAuthServer(std::shared_ptr<const Config> config, const ServerOptions& options,
                                 const ServerDependencies& deps)
    : config_(std::move(config)),
      deps_(deps),
      registry_(config_->clients),
      fetch_pool_(static_cast<size_t>(config_->max_concurrent_fetches)),
      provider_(deps.http, deps.clock, deps.logger),
      cache_(deps.clock, fetch_pool_, deps.scheduler, deps.random, deps.logger),
      service_(config_, registry_, cache_, provider_, deps.clock, deps.logger,
               ServerInfo{options.version, deps.clock.Now()}),
      secret_watcher_(registry_, deps.secrets, deps.scheduler, deps.clock, deps.logger,
                      config_->secret_check_interval,
                      [this](const ClientConfig& old_client, const ClientConfig& new_client) {
                        OnSecretRotated(old_client, new_client);
                      }) {}

void AgentAuthServer::OnSecretRotated(const ClientConfig& /*old_client*/,
                                      const ClientConfig& new_client) {
  // Tokens of the old secret are never served again, and a rejection of the old secret no
  // longer holds callers back.
  cache_.RetireOtherCredentials(new_client.name, new_client.credential_fingerprint);
  cache_.ClearFailureWaits(new_client.name);
  service_.PrewarmClient(registry_.Find(new_client.name));
}

absl::StatusOr<std::unique_ptr<AgentAuthServer>> AgentAuthServer::Start(
    Config config, const ServerOptions& options, const ServerDependencies& deps) {
  auto shared_config = std::make_shared<const Config>(std::move(config));
  std::unique_ptr<AgentAuthServer> server(new AgentAuthServer(shared_config, options, deps));

  int selected_port = 0;
  grpc::ServerBuilder builder;
  // TODO(security): caller authentication and TLS listeners arrive with the security issue;
  // until then the config only allows what the operator chose, loopback by default.
  builder.AddListeningPort(shared_config->listen, grpc::InsecureServerCredentials(),
                           &selected_port);
  builder.RegisterService(&server->service_);
  server->server_ = builder.BuildAndStart();
  const bool is_unix = absl::StartsWith(shared_config->listen, "unix:");
  if (server->server_ == nullptr || (!is_unix && selected_port == 0)) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", shared_config->listen,
                                               ": the address is in use or not local"));
  }

  server->address_ = shared_config->listen;
  if (!is_unix) {
    server->address_ = absl::StrCat(
        shared_config->listen.substr(0, shared_config->listen.rfind(':')), ":", selected_port);
  }
  std::vector<std::string> names;
  for (const ClientConfig& client : shared_config->clients) names.push_back(client.name);
  deps.logger.Info("server", "listening",
                   {{"address", server->address_},
                    {"version", options.version},
                    {"clients", absl::StrJoin(names, ",")},
                    {"prewarm", shared_config->prewarm ? "on" : "off"}});
  server->service_.Prewarm();
  server->secret_watcher_.Start();
  return server;
}

AgentAuthServer::~AgentAuthServer() { Shutdown(absl::ZeroDuration()); }

void AgentAuthServer::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;

  if (server_ != nullptr) {
    server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
    server_->Wait();
  }
  // Fetches still running complete their waiters (whose calls are already cancelled).
  fetch_pool_.Shutdown();
}

}  // namespace agentauth
