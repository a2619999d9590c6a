#include "server/app/agentauth_server.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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

}  // namespace

AgentAuthServer::AgentAuthServer(std::shared_ptr<const Config> config, const ServerOptions& options,
                                 const ServerDependencies& deps)
    : config_(std::move(config)),
      deps_(deps),
      registry_(config_->clients),
      fetch_pool_(static_cast<size_t>(config_->max_concurrent_fetches)),
      provider_(deps.http, deps.clock, deps.logger),
      // A quarter of the pool per client: a client whose provider hangs keeps at most that many
      // threads, and the others keep the rest.
      cache_(deps.clock, fetch_pool_, deps.scheduler, deps.random, deps.logger,
             std::max<size_t>(1, static_cast<size_t>(config_->max_concurrent_fetches) / 4)),
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

  const bool is_unix = absl::StartsWith(shared_config->listen, "unix:");
  if (is_unix && UnixSocketIsLive(shared_config->listen.substr(5))) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", shared_config->listen,
                                               ": another process is serving on that socket"));
  }

  int selected_port = 0;
  grpc::ServerBuilder builder;
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
  if (!is_unix && !IsLoopbackAddress(server->address_)) {
    // TODO(security): caller authentication (the security issue) will refuse this instead.
    deps.logger.Warning("server", "listening_beyond_loopback",
                        {{"address", server->address_},
                         {"risk",
                          "any process that reaches this address gets every client's "
                          "tokens; there is no caller authentication yet"}});
  }
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
