// Talking to the OpenID provider: discovery, then the client_credentials grant.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "server/common/clock.h"
#include "server/common/logging.h"
#include "server/common/random.h"
#include "server/config/config.h"
#include "server/http/http_client.h"
#include "server/metrics/metrics.h"
#include "server/provider/discovery.h"
#include "server/provider/token_response.h"

namespace agentauth {

// Fetches tokens for configured clients. A discovery document is kept per issuer for the
// client's discovery_ttl and then fetched again by the next token fetch (which runs on the
// refresher's threads, never on a caller's); when that fails, the last good document stays in
// use. A token endpoint answering 404 or unreachable makes the next fetch discover anew, in case
// the provider moved it. A failed first discovery is not kept: the next fetch tries again.
//
// Every error carries its FailureKind (server/common/failure.h) and, when the provider sent
// one, its Retry-After delay.
//
// Errors of FetchToken (messages name the cause, never the secret or a token):
//   FAILED_PRECONDITION  the provider rejected the request (an OAuth error such as
//                        invalid_client or invalid_scope, another 4xx, a redirect), or the
//                        discovery document does not fit the configuration (issuer mismatch,
//                        a plain-http token endpoint).
//   UNAVAILABLE          the provider could not be reached, timed out, answered 408, 429 or
//                        5xx, or answered something that is not a token.
//
// The client authenticates with its auth_method, or the one ChooseAuthMethod picks from the
// discovery document and its credentials. A rejection of the credentials (invalid_client, 401)
// names the method used and the methods the provider lists.
//
// Thread-safe. Borrows `http`, `clock`, `logger`, `metrics` and `random` (the `jti` of client
// assertions), which must outlive it.
class ProviderClient {
 public:
  ProviderClient(HttpClient& http, const Clock& clock, Logger& logger, Metrics& metrics,
                 Random& random);

  // One token request with the client_credentials grant. `scopes` normalized (empty: no scope
  // parameter); `audience` empty: no resource parameter. Blocks for up to the client's HTTP
  // timeout per request made (discovery and token).
  absl::StatusOr<ParsedToken> FetchToken(const ClientConfig& client,
                                         const std::vector<std::string>& scopes,
                                         const std::string& audience);

  // The token endpoint the client's requests go to: configured, or discovered. Empty before
  // discovery succeeded.
  std::string TokenEndpointFor(const ClientConfig& client) const;

  // How old the discovery document the client uses is; nullopt before the first discovery or
  // when the token endpoint is configured.
  std::optional<absl::Duration> DiscoveryAge(const ClientConfig& client) const;

 private:
  struct DiscoverySlot {
    std::mutex mutex;  // Held while fetching, so concurrent callers wait for one discovery.
    std::optional<ProviderMetadata> metadata ABSL_GUARDED_BY(mutex);
    // The document is used until then; afterwards the next fetch discovers anew.
    absl::Time refresh_after ABSL_GUARDED_BY(mutex) = absl::InfinitePast();
    absl::Time fetched_at ABSL_GUARDED_BY(mutex) = absl::InfinitePast();
    // Discovery attempts finished (read before waiting for `mutex`), and the last one's failure.
    std::atomic<uint64_t> completed_attempts{0};
    absl::Status last_failure ABSL_GUARDED_BY(mutex);
  };

  // The provider answered a request of the client with Retry-After: every request of the client
  // waits until `until`.
  struct Hold {
    absl::Time until;
    absl::Status cause;
  };
  void HoldClient(const ClientConfig& client, const absl::Status& cause, absl::Time until);
  // The held client's error with the rest of its wait as Retry-After; nullopt when not held.
  std::optional<absl::Status> HeldBack(const ClientConfig& client) const;

  absl::StatusOr<ParsedToken> RequestToken(const ClientConfig& client,
                                           const std::vector<std::string>& scopes,
                                           const std::string& audience);
  absl::StatusOr<ProviderMetadata> Discover(const ClientConfig& client);
  // Puts the client's credentials into `request` the way `method` wants. FAILED_PRECONDITION
  // when a client assertion cannot be signed.
  absl::Status Authenticate(const ClientConfig& client, AuthMethod method,
                            const std::string& endpoint, HttpRequest& request) const;
  void RecordRequest(const ClientConfig& client, absl::string_view kind,
                     const absl::StatusOr<HttpResponse>& response, bool usable,
                     absl::Duration took);
  absl::StatusOr<ProviderMetadata> FetchDiscovery(const ClientConfig& client);
  // Makes the next fetch for `issuer` discover anew.
  void ForgetDiscovery(const std::string& issuer);
  std::shared_ptr<DiscoverySlot> SlotFor(const std::string& issuer) const;

  HttpClient& http_;
  const Clock& clock_;
  Logger& logger_;
  Metrics& metrics_;
  Random& random_;

  mutable std::mutex holds_mutex_;
  std::map<std::string, Hold> holds_ ABSL_GUARDED_BY(holds_mutex_);

  mutable std::mutex slots_mutex_;
  mutable std::map<std::string, std::shared_ptr<DiscoverySlot>> slots_
      ABSL_GUARDED_BY(slots_mutex_);
};

}  // namespace agentauth
