// The token cache: answers from memory while a token has enough validity left, makes a thousand
// concurrent callers of a cold key share one fetch (single flight), renews tokens in the
// background before they expire, and keeps a failing provider from being asked on behalf of
// every caller.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/hash/hash.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/common/clock.h"
#include "server/common/executor.h"
#include "server/common/logging.h"
#include "server/common/random.h"
#include "server/common/refresh_policy.h"
#include "server/common/scheduler.h"
#include "server/metrics/metrics.h"

namespace agentauth {

// What a token is cached under. Two requests share a token only if all four are equal.
struct TokenKey {
  std::string client;
  // Normalized scopes joined by one space.
  std::string scopes;
  std::string audience;
  // Of the client's credentials: a rotated secret never gets the old secret's token.
  std::string credential_fingerprint;

  bool operator==(const TokenKey&) const = default;
  template <typename H>
  friend H AbslHashValue(H state, const TokenKey& key) {
    return H::combine(std::move(state), key.client, key.scopes, key.audience,
                      key.credential_fingerprint);
  }
};

// A token as the provider issued it. Immutable once cached; shared, never copied, per hit.
struct CachedToken {
  std::string access_token;
  std::vector<std::string> scopes;  // Granted, normalized.
  absl::Time obtained_at;           // When the provider's answer was received.
  absl::Time expires_at;
};

// What a fetch returns: the token and how long it lives from the moment it was received.
struct FetchedToken {
  std::string access_token;
  std::vector<std::string> scopes;
  absl::Duration lifetime;
};

struct TokenQuery {
  TokenKey key;
  // The token handed out must have at least this left, or half its lifetime if that is less.
  absl::Duration min_validity = absl::Seconds(60);
  // Fetch anew even when a cached token would do; joins a fetch already in flight.
  bool force_refresh = false;

  // Of the key's client: its configured min_validity (background renewal happens before a
  // token falls below it) and its renewal and retry policy.
  absl::Duration client_min_validity = absl::Seconds(60);
  RefreshPolicy policy;
  // Renew this key's token in the background even when nobody used it since the last fetch:
  // the primary token of every client when prewarming is on. Other keys are renewed only while
  // they are being used, so a one-off scope or audience does not cost provider requests forever.
  bool keep_warm = false;
};

// A copy of a key's state, for status reports.
struct TokenEntrySnapshot {
  std::shared_ptr<const CachedToken> token;  // nullptr before the first success.
  bool fetch_in_flight = false;
  absl::Time last_success = absl::InfinitePast();
  absl::Status last_error;  // OK after a success.
  bool last_error_definitive = false;
  uint32_t consecutive_failures = 0;
  // When the provider will next be asked for this key, if it is planned: the background
  // renewal after a success, or the retry after a failure. InfiniteFuture when nothing is.
  absl::Time next_attempt = absl::InfiniteFuture();
  // Before this, callers without a usable token get the last error at once.
  absl::Time retry_not_before = absl::InfinitePast();
};

struct CacheCounters {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t fetches = 0;
};

// Lifecycle of a key, all on the injected clock:
//   - a miss starts a fetch (or joins the one in flight); every waiter gets its result;
//   - after a success, a renewal is planned at policy.refresh_at of the lifetime (minus a random
//     share up to policy.jitter), and never later than the point where the token would stop
//     satisfying the client's min_validity; the old token is served until the new one arrives;
//   - after a failure, callers without a usable token get the error at once, with the time of
//     the next attempt, until that time: the provider's Retry-After (capped), full-jitter
//     exponential backoff for transient failures, or policy.negative_cache_ttl for definitive
//     ones. Transient failures are retried in the background while the key is wanted.
//
// Thread-safe. Borrows everything it is given, which must outlive it; the executor must run
// every task it accepted, and the scheduler must be shut down, before the cache is destroyed.
class TokenCache {
 public:
  using TokenPtr = std::shared_ptr<const CachedToken>;
  using Callback = std::function<void(absl::StatusOr<TokenPtr>)>;
  // Runs on the executor and blocks on the provider.
  using FetchFunction = std::function<absl::StatusOr<FetchedToken>()>;

  // At most `max_fetches_per_client` fetches of one client run at once; the client's others
  // wait in its own queue without holding one of the executor's threads, so a client whose
  // provider hangs cannot starve the rest. REQUIRES: max_fetches_per_client >= 1.
  TokenCache(const Clock& clock, Executor& executor, Scheduler& scheduler, Random& random,
             Logger& logger, Metrics& metrics, size_t max_fetches_per_client = 2);

  // Calls `done` exactly once: at once, on this thread, with a cached token that satisfies
  // `query`, or with RESOURCE_EXHAUSTED when the key is new and its client already has
  // kMaxKeysPerClient keys; otherwise on the executor when the key's fetch completes. A fetch
  // already in flight for the key is joined; else `fetch` is scheduled. Every waiter of a fetch
  // gets its result: the new token, or the fetch's error.
  void Get(const TokenQuery& query, FetchFunction fetch, Callback done);

  // Get(), for callers whose fetch function costs something to make: `make_fetch` runs (on this
  // thread, before Get returns) only when the call is not answered from the cache. A hit leaves
  // the key's fetch function as it is: a key's client version never changes (a changed or
  // rotated client gets new keys), so the stored one is equivalent. On the hot path, making a
  // fetch function on every hit was a measurable share of agentauth's own cost (tests/bench).
  void GetWithLazyFetch(const TokenQuery& query, absl::FunctionRef<FetchFunction()> make_fetch,
                        Callback done);

  // Starts a fetch for `query.key` unless one is in flight, a usable token is held, or a
  // failure's waiting time has not passed. No caller waits for it. Used to prewarm.
  void Warm(const TokenQuery& query, FetchFunction fetch);

  // Calls `observer` after every fetch, once its result is stored and before its waiters are
  // answered, outside any lock. Set it before the first fetch.
  void SetFetchObserver(std::function<void()> observer) { fetch_observer_ = std::move(observer); }

  // Lets the next call for any key of `client` go to the provider at once, forgetting waiting
  // times of earlier failures: the configuration or the secret changed.
  void ClearFailureWaits(const std::string& client);

  // Drops every key of `client` whose credential fingerprint is not `current_fingerprint`:
  // their tokens were obtained with a secret that is no longer the client's. Callers waiting on
  // a fetch of such a key get UNAVAILABLE and can ask again; no renewal of them happens.
  void RetireOtherCredentials(const std::string& client, const std::string& current_fingerprint);

  // The state of `key`; a default snapshot if the key was never asked for.
  TokenEntrySnapshot Snapshot(const TokenKey& key) const;

  // Hits, misses and fetches summed over every key of `client`.
  CacheCounters CountersFor(const std::string& client) const;

  // Distinct (scopes, audience, credential) combinations cached per client. Each costs a token's
  // memory and provider requests; without a bound, a caller cycling through audiences could
  // grow both without limit.
  static constexpr size_t kMaxKeysPerClient = 256;

  // Keys cached for `client` now.
  size_t KeyCount(const std::string& client) const;

  // True when `token` may be handed out at `now` to a caller asking for `min_validity`.
  static bool IsFreshEnough(const CachedToken& token, absl::Duration min_validity, absl::Time now);

 private:
  struct Entry;

  // nullptr when the key is new and its client is at kMaxKeysPerClient.
  std::shared_ptr<Entry> FindOrCreate(const TokenKey& key);
  // Removes the key if `entry` is still its entry and nothing waits on it.
  void Forget(const TokenKey& key, const std::shared_ptr<Entry>& entry);
  std::shared_ptr<Entry> Find(const TokenKey& key) const;
  // Claims the key's fetch and hands it to the executor. REQUIRES: entry->mutex held and no
  // fetch in flight.
  void StartFetchLocked(const TokenKey& key, const std::shared_ptr<Entry>& entry);
  // Queues `done` for the fetch in flight, counting it as a waiter until it is answered.
  // REQUIRES: entry.mutex held.
  void AddWaiterLocked(const std::string& client, Entry& entry, Callback done);
  void RunFetch(const TokenKey& key, const std::shared_ptr<Entry>& entry);
  // Plans the next background attempt at `when`, replacing any planned before.
  // REQUIRES: entry->mutex held.
  void PlanAttemptLocked(const TokenKey& key, const std::shared_ptr<Entry>& entry, absl::Time when,
                         bool is_renewal);
  void OnPlannedAttempt(const TokenKey& key, const std::weak_ptr<Entry>& weak_entry, uint64_t plan);
  absl::Time RenewalTime(const CachedToken& token, const Entry& entry);
  absl::Duration FailureWait(const absl::Status& error, uint32_t failures,
                             const RefreshPolicy& policy);
  // Runs `fetch` on the executor once the client has fewer than the allowed fetches running.
  void Dispatch(const std::string& client, std::function<void()> fetch);
  void RunAndRelease(const std::string& client, const std::function<void()>& fetch);

  struct ClientFetches {
    size_t running = 0;
    std::deque<std::function<void()>> waiting;
  };

  const Clock& clock_;
  Executor& executor_;
  Scheduler& scheduler_;
  Random& random_;
  Logger& logger_;
  Metrics& metrics_;
  const size_t max_fetches_per_client_;
  std::function<void()> fetch_observer_;

  std::mutex fetches_mutex_;
  absl::flat_hash_map<std::string, ClientFetches> fetches_by_client_
      ABSL_GUARDED_BY(fetches_mutex_);

  // Entries are never removed, so a pointer taken under the lock stays valid without it.
  mutable std::shared_mutex entries_mutex_;
  absl::flat_hash_map<TokenKey, std::shared_ptr<Entry>> entries_ ABSL_GUARDED_BY(entries_mutex_);
  // The same entries by client, so that what concerns one client (its key count, counters,
  // failure waits) costs its own keys, not every key: GetStatus asks for each client in turn,
  // and with ten thousand clients a scan of all keys per client took seconds (tests/bench).
  absl::flat_hash_map<std::string, absl::flat_hash_map<TokenKey, std::shared_ptr<Entry>>>
      entries_by_client_ ABSL_GUARDED_BY(entries_mutex_);
};

}  // namespace agentauth
