#include "server/cache/token_cache.h"

#include "absl/strings/str_cat.h"
#include "server/common/fingerprint.h"

namespace agentauth {

struct TokenCache::Entry {
  mutable std::mutex mutex;
  TokenPtr token ABSL_GUARDED_BY(mutex);
  bool fetch_in_flight ABSL_GUARDED_BY(mutex) = false;
  std::vector<Callback> waiters ABSL_GUARDED_BY(mutex);
  absl::Time last_success ABSL_GUARDED_BY(mutex) = absl::InfinitePast();
  absl::Status last_error ABSL_GUARDED_BY(mutex);
  uint32_t consecutive_failures ABSL_GUARDED_BY(mutex) = 0;

  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> misses{0};
  std::atomic<uint64_t> fetches{0};
};

TokenCache::TokenCache(const Clock& clock, Executor& executor, Logger& logger)
    : clock_(clock), executor_(executor), logger_(logger) {}

bool TokenCache::IsFreshEnough(const CachedToken& token, absl::Duration min_validity,
                               absl::Time now) {
  // A provider issuing 30 s tokens cannot satisfy a 60 s floor; insisting would fetch on every
  // call. Half the lifetime keeps such tokens cached for a while and still fresh.
  const absl::Duration half_lifetime = (token.expires_at - token.obtained_at) / 2;
  return token.expires_at - now > std::min(min_validity, half_lifetime);
}

std::shared_ptr<TokenCache::Entry> TokenCache::Find(const TokenKey& key) const {
  std::shared_lock<std::shared_mutex> lock(entries_mutex_);
  const auto found = entries_.find(key);
  return found == entries_.end() ? nullptr : found->second;
}

std::shared_ptr<TokenCache::Entry> TokenCache::FindOrCreate(const TokenKey& key) {
  if (std::shared_ptr<Entry> entry = Find(key)) return entry;

  std::unique_lock<std::shared_mutex> lock(entries_mutex_);
  std::shared_ptr<Entry>& entry = entries_[key];
  if (entry == nullptr) entry = std::make_shared<Entry>();
  return entry;
}

void TokenCache::Get(const TokenQuery& query, FetchFunction fetch, Callback done) {
  std::shared_ptr<Entry> entry = FindOrCreate(query.key);

  bool start_fetch = false;
  {
    std::unique_lock<std::mutex> lock(entry->mutex);
    if (!query.force_refresh && entry->token != nullptr &&
        IsFreshEnough(*entry->token, query.min_validity, clock_.Now())) {
      TokenPtr token = entry->token;
      lock.unlock();
      entry->hits.fetch_add(1, std::memory_order_relaxed);
      done(std::move(token));
      return;
    }
    entry->misses.fetch_add(1, std::memory_order_relaxed);
    entry->waiters.push_back(std::move(done));
    if (!entry->fetch_in_flight) {
      entry->fetch_in_flight = true;
      start_fetch = true;
    }
  }

  if (start_fetch) {
    entry->fetches.fetch_add(1, std::memory_order_relaxed);
    executor_.Schedule(
        [this, key = query.key, entry, fetch = std::move(fetch)] { RunFetch(key, entry, fetch); });
  }
}

void TokenCache::RunFetch(const TokenKey& key, const std::shared_ptr<Entry>& entry,
                          const FetchFunction& fetch) {
  absl::StatusOr<FetchedToken> fetched = fetch();
  const absl::Time now = clock_.Now();

  absl::StatusOr<TokenPtr> result;
  std::vector<Callback> waiters;
  bool first_token = false;
  bool recovered = false;
  uint32_t failures = 0;
  {
    std::lock_guard<std::mutex> lock(entry->mutex);
    if (fetched.ok()) {
      auto token = std::make_shared<CachedToken>();
      token->access_token = std::move(fetched->access_token);
      token->scopes = std::move(fetched->scopes);
      token->obtained_at = now;
      token->expires_at = now + fetched->lifetime;
      first_token = entry->token == nullptr;
      recovered = entry->consecutive_failures > 0;
      entry->token = token;
      entry->last_success = now;
      entry->last_error = absl::OkStatus();
      entry->consecutive_failures = 0;
      result = TokenPtr(std::move(token));
    } else {
      entry->last_error = fetched.status();
      failures = ++entry->consecutive_failures;
      result = fetched.status();
    }
    entry->fetch_in_flight = false;
    waiters.swap(entry->waiters);
  }

  if (result.ok()) {
    const std::string expires_in =
        absl::FormatDuration(absl::Trunc((*result)->expires_at - now, absl::Seconds(1)));
    const std::string fingerprint = Fingerprint((*result)->access_token);
    if (first_token || recovered) {
      logger_.Info("cache", first_token ? "first_token" : "recovered",
                   {{"client", key.client},
                    {"scopes", key.scopes},
                    {"expires_in", expires_in},
                    {"token_fingerprint", fingerprint}});
    } else {
      logger_.Debug("cache", "token_fetched",
                    {{"client", key.client},
                     {"scopes", key.scopes},
                     {"expires_in", expires_in},
                     {"token_fingerprint", fingerprint}});
    }
  } else {
    logger_.Warning("cache", "fetch_failed",
                    {{"client", key.client},
                     {"scopes", key.scopes},
                     {"code", absl::StatusCodeToString(result.status().code())},
                     {"cause", std::string(result.status().message())},
                     {"consecutive_failures", absl::StrCat(failures)}});
  }

  for (Callback& waiter : waiters) waiter(result);
}

TokenEntrySnapshot TokenCache::Snapshot(const TokenKey& key) const {
  TokenEntrySnapshot snapshot;
  std::shared_ptr<Entry> entry = Find(key);
  if (entry == nullptr) return snapshot;

  std::lock_guard<std::mutex> lock(entry->mutex);
  snapshot.token = entry->token;
  snapshot.fetch_in_flight = entry->fetch_in_flight;
  snapshot.last_success = entry->last_success;
  snapshot.last_error = entry->last_error;
  snapshot.consecutive_failures = entry->consecutive_failures;
  return snapshot;
}

CacheCounters TokenCache::CountersFor(const std::string& client) const {
  CacheCounters counters;
  std::shared_lock<std::shared_mutex> lock(entries_mutex_);
  for (const auto& [key, entry] : entries_) {
    if (key.client != client) continue;
    counters.hits += entry->hits.load(std::memory_order_relaxed);
    counters.misses += entry->misses.load(std::memory_order_relaxed);
    counters.fetches += entry->fetches.load(std::memory_order_relaxed);
  }
  return counters;
}

}  // namespace agentauth
