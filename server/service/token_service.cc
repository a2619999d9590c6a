#include "server/service/token_service.h"

#include <atomic>
#include <mutex>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/callers/caller_policy.h"
#include "server/common/text.h"
#include "server/common/tsan_handoff.h"
#include "server/service/conversions.h"
#include "server/service/token_request.h"

namespace agentauth {
namespace {

using agentauth::v1::ClientState;
using agentauth::v1::ClientStatus;
using agentauth::v1::GetAccessTokenRequest;
using agentauth::v1::GetAccessTokenResponse;
using agentauth::v1::GetStatusRequest;
using agentauth::v1::GetStatusResponse;

// The canonical name Prometheus dashboards expect in grpc_code ("NOT_FOUND").
std::string GrpcCodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

// A unary call whose answer may come from another thread, after the handler returned. The
// first of "answer ready" and "call cancelled" (deadline passed, caller gone) finishes the call;
// the other finds it finished and does nothing, so a late token never touches a freed response.
//
// An answer ready before the handler returns (a cache hit, a rejected request) goes out through
// gRPC's default reactor: a reactor of our own has its OnDone run on another of gRPC's threads,
// which cost about a third of the server CPU per call in the hot-path benchmark (tests/bench).
// Only a call still waiting when the handler returns gets a Reactor, to hear of cancellation.
class DeferredCall : public std::enable_shared_from_this<DeferredCall> {
 public:
  class Reactor : public grpc::ServerUnaryReactor {
   public:
    explicit Reactor(std::shared_ptr<DeferredCall> call) : call_(std::move(call)) {}
    void OnCancel() override {
      TsanAcquire(this);
      call_->TryFinish(grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled"));
    }
    void OnDone() override {
      TsanAcquire(this);
      delete this;
    }

   private:
    std::shared_ptr<DeferredCall> call_;
  };

  static std::shared_ptr<DeferredCall> Create(Metrics& metrics, absl::string_view method,
                                              grpc::CallbackServerContext* context) {
    return std::shared_ptr<DeferredCall>(new DeferredCall(metrics, method, context));
  }

  // True for exactly one caller, who must then call Finish().
  bool Claim() { return !claimed_.exchange(true, std::memory_order_acq_rel); }
  void Finish(const grpc::Status& status) {
    metrics_.RpcHandled(method_, GrpcCodeName(status.error_code()),
                        absl::ToDoubleSeconds(absl::Now() - start_));
    // The server's shutdown waits (inside gRPC) for this Finish and then destroys the metrics.
    TsanRelease(&metrics_);
    grpc::ServerUnaryReactor* reactor = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (reactor_ == nullptr) {
        // The handler has not returned yet: it finishes the call with this status.
        early_status_ = status;
        return;
      }
      reactor = reactor_;
    }
    reactor->Finish(status);
  }

  void TryFinish(const grpc::Status& status) {
    if (Claim()) Finish(status);
  }

  // What the handler returns, called once as its last step: the default reactor, finished, when
  // the answer is already there; else a Reactor that a later Finish or cancellation finishes.
  grpc::ServerUnaryReactor* HandlerReturns() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (early_status_.has_value()) {
      lock.unlock();
      grpc::ServerUnaryReactor* reactor = context_->DefaultReactor();
      reactor->Finish(*early_status_);
      return reactor;
    }
    auto* reactor = new Reactor(shared_from_this());
    reactor_ = reactor;
    TsanRelease(reactor);
    return reactor;
  }

 private:
  DeferredCall(Metrics& metrics, absl::string_view method, grpc::CallbackServerContext* context)
      : metrics_(metrics), method_(method), context_(context), start_(absl::Now()) {
    metrics_.RpcStarted(method_);
  }

  Metrics& metrics_;
  const std::string method_;
  grpc::CallbackServerContext* const context_;
  // Latency is real elapsed time, not the injected clock: it measures this process.
  const absl::Time start_;
  std::atomic<bool> claimed_{false};
  std::mutex mutex_;
  // Set once the handler returns without an answer. Valid until finished: gRPC deletes it only
  // after Finish.
  grpc::ServerUnaryReactor* reactor_ ABSL_GUARDED_BY(mutex_) = nullptr;
  std::optional<grpc::Status> early_status_ ABSL_GUARDED_BY(mutex_);
};

std::string ClientPrefixed(const std::string& client, absl::string_view message) {
  return absl::StrCat("client \"", client, "\": ", message);
}

absl::Status WithClient(const std::string& client, const absl::Status& status) {
  return absl::Status(status.code(), ClientPrefixed(client, status.message()));
}

void FillResponse(const CachedToken& token, GetAccessTokenResponse& response) {
  response.set_access_token(token.access_token);
  response.set_token_type("Bearer");
  *response.mutable_expires_at() = ToProtoTimestamp(token.expires_at);
  for (const std::string& scope : token.scopes) response.add_scopes(scope);
  response.set_authorization(absl::StrCat("Bearer ", token.access_token));
}

ClientState StateOf(const TokenEntrySnapshot& snapshot, absl::Time now) {
  const bool has_valid_token = snapshot.token != nullptr && snapshot.token->expires_at > now;
  if (snapshot.fetch_in_flight) return agentauth::v1::CLIENT_STATE_REFRESHING;
  if (has_valid_token) {
    return snapshot.last_error.ok() ? agentauth::v1::CLIENT_STATE_OK
                                    : agentauth::v1::CLIENT_STATE_DEGRADED;
  }
  return snapshot.last_error.ok() ? agentauth::v1::CLIENT_STATE_IDLE
                                  : agentauth::v1::CLIENT_STATE_FAILING;
}

}  // namespace

TokenKey MakeTokenKey(const ClientConfig& client, const std::vector<std::string>& scopes,
                      const std::string& audience) {
  return TokenKey{client.name, absl::StrJoin(scopes, " "), audience, client.credential_fingerprint};
}

TokenServiceImpl::TokenServiceImpl(std::shared_ptr<const Config> config, ClientRegistry& registry,
                                   TokenCache& cache, ProviderClient& provider, const Clock& clock,
                                   Logger& logger, Metrics& metrics, CallerGate& callers,
                                   ServerInfo info)
    : config_(std::move(config)),
      registry_(registry),
      cache_(cache),
      provider_(provider),
      clock_(clock),
      logger_(logger),
      metrics_(metrics),
      callers_(callers),
      info_(std::move(info)) {}

grpc::ServerUnaryReactor* TokenServiceImpl::GetAccessToken(grpc::CallbackServerContext* context,
                                                           const GetAccessTokenRequest* request,
                                                           GetAccessTokenResponse* response) {
  const std::shared_ptr<DeferredCall> call =
      DeferredCall::Create(metrics_, "GetAccessToken", context);

  if (absl::Status shape = CheckRequestShape(*request); !shape.ok()) {
    call->TryFinish(ToGrpcStatus(shape));
    return call->HandlerReturns();
  }
  const std::shared_ptr<const ClientConfig> client = registry_.Find(request->client());
  absl::StatusOr<CallerIdentity> caller =
      callers_.Identify(*context, client == nullptr ? "unknown" : client->name);
  if (!caller.ok()) {
    call->TryFinish(ToGrpcStatus(caller.status()));
    return call->HandlerReturns();
  }
  if (client == nullptr) {
    call->TryFinish(ToGrpcStatus(absl::NotFoundError(
        absl::StrCat("unknown client \"", SanitizeForMessage(request->client(), 128),
                     "\"; `agentauth status` lists the configured clients"))));
    return call->HandlerReturns();
  }
  if (absl::Status may_use = callers_.CheckMayUse(*client, *caller); !may_use.ok()) {
    call->TryFinish(ToGrpcStatus(may_use));
    return call->HandlerReturns();
  }
  absl::StatusOr<ValidTokenRequest> valid = ValidateTokenRequest(*request, *client);
  if (!valid.ok()) {
    call->TryFinish(ToGrpcStatus(WithClient(client->name, valid.status())));
    return call->HandlerReturns();
  }
  absl::Status allowed = callers_.Authorize(*client, *caller, valid->scopes, valid->audience);
  if (allowed.ok() && valid->force_refresh) allowed = callers_.CheckForceRefresh(*client, *caller);
  if (!allowed.ok()) {
    call->TryFinish(ToGrpcStatus(allowed));
    return call->HandlerReturns();
  }

  TokenQuery query = QueryFor(*client, valid->scopes, valid->audience);
  query.min_validity = valid->min_validity;
  query.force_refresh = valid->force_refresh;

  auto done = [call = call, response, client, caller = *std::move(caller),
               gate = &callers_](absl::StatusOr<TokenCache::TokenPtr> token) {
    if (!call->Claim()) return;  // Cancelled first: `response` may be gone.
    if (!token.ok()) {
      call->Finish(ToGrpcStatus(WithClient(client->name, token.status())));
      return;
    }
    gate->LogGrant(*client, caller, *token);
    FillResponse(**token, *response);
    call->Finish(grpc::Status::OK);
  };
  // The last use of the validated request: its scopes and audience move into the fetch.
  cache_.GetWithLazyFetch(
      query,
      [&]() { return FetchFor(client, std::move(valid->scopes), std::move(valid->audience)); },
      std::move(done));
  return call->HandlerReturns();
}

TokenQuery TokenServiceImpl::QueryFor(const ClientConfig& client,
                                      const std::vector<std::string>& scopes,
                                      const std::string& audience) const {
  TokenQuery query;
  query.key = MakeTokenKey(client, scopes, audience);
  query.min_validity = client.min_validity;
  query.client_min_validity = client.min_validity;
  query.policy = client.refresh;
  query.keep_warm = config_->prewarm && audience.empty() && scopes == client.scopes;
  return query;
}

TokenCache::FetchFunction TokenServiceImpl::FetchFor(std::shared_ptr<const ClientConfig> client,
                                                     std::vector<std::string> scopes,
                                                     std::string audience) const {
  // The fetch holds the client version it was made for: a rotated secret is used only by
  // fetches made after the rotation.
  return [client = std::move(client), provider = &provider_, scopes = std::move(scopes),
          audience = std::move(audience)]() -> absl::StatusOr<FetchedToken> {
    absl::StatusOr<ParsedToken> token = provider->FetchToken(*client, scopes, audience);
    if (!token.ok()) return token.status();
    return FetchedToken{std::move(token->access_token),
                        token->scopes.empty() ? scopes : std::move(token->scopes), token->lifetime};
  };
}

void TokenServiceImpl::Prewarm() {
  for (const auto& client : registry_.All()) PrewarmClient(client);
}

void TokenServiceImpl::PrewarmClient(const std::shared_ptr<const ClientConfig>& client) {
  if (!config_->prewarm) return;
  cache_.Warm(QueryFor(*client, client->scopes, ""), FetchFor(client, client->scopes, ""));
}

bool TokenServiceImpl::Ready() const {
  size_t first_unready = 0;
  return ReadyFrom(first_unready);
}

bool TokenServiceImpl::ReadyFrom(size_t& first_unready) const {
  if (!config_->prewarm) return true;
  for (; const auto client = registry_.At(first_unready); ++first_unready) {
    const TokenEntrySnapshot snapshot = cache_.Snapshot(MakeTokenKey(*client, client->scopes, ""));
    if (snapshot.token == nullptr && !snapshot.last_error_definitive) return false;
  }
  return true;
}

ClientStatus TokenServiceImpl::StatusOf(const ClientConfig& client, absl::Time now) const {
  const TokenEntrySnapshot snapshot = cache_.Snapshot(MakeTokenKey(client, client.scopes, ""));
  const CacheCounters counters = cache_.CountersFor(client.name);

  ClientStatus status;
  status.set_name(client.name);
  status.set_client_id(client.client_id);
  status.set_issuer(client.authority);
  status.set_token_endpoint(provider_.TokenEndpointFor(client));
  for (const std::string& scope : client.scopes) status.add_scopes(scope);

  const CachedToken* token = snapshot.token.get();
  status.set_has_signed_in(token != nullptr);
  status.set_has_expired(token != nullptr &&
                         !TokenCache::IsFreshEnough(*token, client.min_validity, now));
  status.set_is_authorized(status.has_signed_in() && !status.has_expired());
  status.set_state(StateOf(snapshot, now));
  if (token != nullptr) *status.mutable_expires_at() = ToProtoTimestamp(token->expires_at);
  if (snapshot.next_attempt != absl::InfiniteFuture()) {
    *status.mutable_next_refresh() = ToProtoTimestamp(snapshot.next_attempt);
  }
  if (snapshot.last_success != absl::InfinitePast()) {
    *status.mutable_last_refresh() = ToProtoTimestamp(snapshot.last_success);
  }
  status.set_last_error(std::string(snapshot.last_error.message()));
  status.set_consecutive_failures(snapshot.consecutive_failures);
  status.set_cache_hits(counters.hits);
  status.set_cache_misses(counters.misses);
  status.set_fetches(counters.fetches);
  return status;
}

grpc::ServerUnaryReactor* TokenServiceImpl::GetStatus(grpc::CallbackServerContext* context,
                                                      const GetStatusRequest* request,
                                                      GetStatusResponse* response) {
  const std::shared_ptr<DeferredCall> call = DeferredCall::Create(metrics_, "GetStatus", context);
  const absl::Time now = clock_.Now();

  std::shared_ptr<const ClientConfig> named;
  if (!request->client().empty()) named = registry_.Find(request->client());
  absl::StatusOr<CallerIdentity> caller =
      callers_.Identify(*context, named == nullptr ? "unknown" : named->name);
  if (!caller.ok()) {
    call->TryFinish(ToGrpcStatus(caller.status()));
    return call->HandlerReturns();
  }
  if (!request->client().empty()) {
    if (named == nullptr) {
      call->TryFinish(ToGrpcStatus(absl::NotFoundError(
          absl::StrCat("unknown client \"", SanitizeForMessage(request->client(), 128), "\""))));
      return call->HandlerReturns();
    }
    if (absl::Status may_use = callers_.CheckMayUse(*named, *caller); !may_use.ok()) {
      call->TryFinish(ToGrpcStatus(may_use));
      return call->HandlerReturns();
    }
    *response->add_clients() = StatusOf(*named, now);
  } else {
    // Only the clients this caller may use: the others are none of its business.
    for (const auto& client : registry_.All()) {
      if (CallerMayUseClient(*client, *caller)) *response->add_clients() = StatusOf(*client, now);
    }
  }
  response->set_ready(Ready());
  response->set_server_version(info_.version);
  *response->mutable_start_time() = ToProtoTimestamp(info_.start_time);
  call->TryFinish(grpc::Status::OK);
  return call->HandlerReturns();
}

}  // namespace agentauth
