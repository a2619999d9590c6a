// The token cache: answers from memory while a token has enough validity left, and makes a
// thousand concurrent callers of a cold key share one fetch (single flight).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/common/clock.h"
#include "server/common/executor.h"
#include "server/common/logging.h"

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
};

// A copy of a key's state, for status reports.
struct TokenEntrySnapshot {
  std::shared_ptr<const CachedToken> token;  // nullptr before the first success.
  bool fetch_in_flight = false;
  absl::Time last_success = absl::InfinitePast();
  absl::Status last_error;  // OK after a success.
  uint32_t consecutive_failures = 0;
};

struct CacheCounters {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t fetches = 0;
};

// Thread-safe. Borrows `clock`, `executor` and `logger`, which must outlive it; the executor
// must run every task it accepted before the cache is destroyed.
class TokenCache {
 public:
  using TokenPtr = std::shared_ptr<const CachedToken>;
  using Callback = std::function<void(absl::StatusOr<TokenPtr>)>;
  // Runs on the executor and blocks on the provider.
  using FetchFunction = std::function<absl::StatusOr<FetchedToken>()>;

  TokenCache(const Clock& clock, Executor& executor, Logger& logger);

  // Calls `done` exactly once: at once, on this thread, with a cached token that satisfies
  // `query`; otherwise on the executor when the key's fetch completes. A fetch already in flight
  // for the key is joined; else `fetch` is scheduled. Every waiter of a fetch gets its result:
  // the new token, or the fetch's error.
  void Get(const TokenQuery& query, FetchFunction fetch, Callback done);

  // The state of `key`; a default snapshot if the key was never asked for.
  TokenEntrySnapshot Snapshot(const TokenKey& key) const;

  // Hits, misses and fetches summed over every key of `client`.
  CacheCounters CountersFor(const std::string& client) const;

  // True when `token` may be handed out at `now` to a caller asking for `min_validity`.
  static bool IsFreshEnough(const CachedToken& token, absl::Duration min_validity, absl::Time now);

 private:
  struct Entry;

  std::shared_ptr<Entry> FindOrCreate(const TokenKey& key);
  std::shared_ptr<Entry> Find(const TokenKey& key) const;
  void RunFetch(const TokenKey& key, const std::shared_ptr<Entry>& entry,
                const FetchFunction& fetch);

  const Clock& clock_;
  Executor& executor_;
  Logger& logger_;

  // Entries are never removed, so a pointer taken under the lock stays valid without it.
  mutable std::shared_mutex entries_mutex_;
  absl::flat_hash_map<TokenKey, std::shared_ptr<Entry>> entries_ ABSL_GUARDED_BY(entries_mutex_);
};

}  // namespace agentauth
