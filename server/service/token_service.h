// The gRPC edge: agentauth.v1.TokenService on the callback API.
#pragma once

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "agentauth/v1/token_service.grpc.pb.h"
#include "server/cache/token_cache.h"
#include "server/clients/client_registry.h"
#include "server/common/clock.h"
#include "server/common/logging.h"
#include "server/config/config.h"
#include "server/provider/provider_client.h"
#include "server/service/caller_gate.h"

namespace agentauth {

struct ServerInfo {
  std::string version;
  absl::Time start_time;
};

// Answers GetAccessToken from the cache; a miss waits for the shared fetch without holding a
// thread, and the caller's deadline bounds the wait. Statuses follow DESIGN.md ("Errors a
// caller sees"); messages name the client and the cause, never a secret or a token.
//
// Thread-safe. Borrows everything it is given, which must outlive it.
class TokenServiceImpl final : public agentauth::v1::TokenService::CallbackService {
 public:
  // `config` gives the server-wide settings; the clients come from `registry`, which may
  // replace a client while serving.
  TokenServiceImpl(std::shared_ptr<const Config> config, ClientRegistry& registry,
                   TokenCache& cache, ProviderClient& provider, const Clock& clock, Logger& logger,
                   Metrics& metrics, CallerGate& callers, ServerInfo info);

  grpc::ServerUnaryReactor* GetAccessToken(
      grpc::CallbackServerContext* context, const agentauth::v1::GetAccessTokenRequest* request,
      agentauth::v1::GetAccessTokenResponse* response) override;

  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* context,
                                      const agentauth::v1::GetStatusRequest* request,
                                      agentauth::v1::GetStatusResponse* response) override;

  // Starts fetching every client's primary token (its configured scopes, no audience) in the
  // background, when the config asks for prewarming.
  void Prewarm();
  void PrewarmClient(const std::shared_ptr<const ClientConfig>& client);

  // Start-up is complete: with prewarming, every client has a token or has definitively failed.
  bool Ready() const;
  // Ready(), checking only the clients from position `first_unready` on and moving it past
  // those that are ready. Start-up asks after every fetch: resuming where the last answer
  // stopped makes N clients cost O(N) checks in all instead of O(N^2), which took seconds with
  // ten thousand clients (tests/bench). Clients before the position are not checked again.
  bool ReadyFrom(size_t& first_unready) const;

  // What GetStatus reports of `client` at `now`.
  agentauth::v1::ClientStatus StatusOf(const ClientConfig& client, absl::Time now) const;

 private:
  TokenQuery QueryFor(const ClientConfig& client, const std::vector<std::string>& scopes,
                      const std::string& audience) const;
  TokenCache::FetchFunction FetchFor(std::shared_ptr<const ClientConfig> client,
                                     std::vector<std::string> scopes, std::string audience) const;

  const std::shared_ptr<const Config> config_;
  ClientRegistry& registry_;
  TokenCache& cache_;
  ProviderClient& provider_;
  const Clock& clock_;
  Logger& logger_;
  Metrics& metrics_;
  CallerGate& callers_;
  const ServerInfo info_;
};

// The key of `client`'s token for `scopes` and `audience`.
TokenKey MakeTokenKey(const ClientConfig& client, const std::vector<std::string>& scopes,
                      const std::string& audience);

}  // namespace agentauth
