#include "server/cache/token_cache.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "server/common/failure.h"
#include "server/common/fingerprint.h"

namespace agentauth {
namespace {

// Renewals are never planned closer together than this, however short-lived the tokens.
constexpr absl::Duration kMinRenewalDelay = absl::Seconds(1);

std::string Seconds(absl::Duration duration) {
  return absl::FormatDuration(absl::Ceil(duration, absl::Seconds(1)));
}

// The error as a caller sees it: the cause and when the provider will be asked again.
absl::Status WithNextAttempt(const absl::Status& error, absl::Duration wait) {
  return absl::Status(error.code(),
                      absl::StrCat(error.message(), "; next attempt in ", Seconds(wait)));
}

}  // namespace

struct TokenCache::Entry {
  mutable std::mutex mutex;
  TokenPtr token ABSL_GUARDED_BY(mutex);
  bool fetch_in_flight ABSL_GUARDED_BY(mutex) = false;
  std::vector<Callback> waiters ABSL_GUARDED_BY(mutex);

  // From the latest query: what a background attempt runs and follows.
  FetchFunction fetch ABSL_GUARDED_BY(mutex);
  RefreshPolicy policy ABSL_GUARDED_BY(mutex);
  absl::Duration client_min_validity ABSL_GUARDED_BY(mutex) = absl::Seconds(60);
  bool keep_warm ABSL_GUARDED_BY(mutex) = false;
  bool used_since_fetch ABSL_GUARDED_BY(mutex) = false;
  // Removed from the cache (its credentials were replaced): nothing it fetches is handed out.
  bool retired ABSL_GUARDED_BY(mutex) = false;

  absl::Time last_success ABSL_GUARDED_BY(mutex) = absl::InfinitePast();
  absl::Status last_error ABSL_GUARDED_BY(mutex);
  bool last_error_definitive ABSL_GUARDED_BY(mutex) = false;
  uint32_t consecutive_failures ABSL_GUARDED_BY(mutex) = 0;
  absl::Time retry_not_before ABSL_GUARDED_BY(mutex) = absl::InfinitePast();

  // The planned background attempt; a plan fires only if it is still the current one.
  uint64_t plan ABSL_GUARDED_BY(mutex) = 0;
  absl::Time planned_at ABSL_GUARDED_BY(mutex) = absl::InfiniteFuture();
  bool planned_is_renewal ABSL_GUARDED_BY(mutex) = false;

  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> misses{0};
  std::atomic<uint64_t> fetches{0};

  void Remember(const TokenQuery& query, FetchFunction new_fetch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex) {
    fetch = std::move(new_fetch);
    RememberPolicy(query);
  }
  void RememberPolicy(const TokenQuery& query) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex) {
    policy = query.policy;
    client_min_validity = query.client_min_validity;
    keep_warm = keep_warm || query.keep_warm;
  }
};

TokenCache::TokenCache(const Clock& clock, Executor& executor, Scheduler& scheduler, Random& random,
                       Logger& logger, Metrics& metrics, size_t max_fetches_per_client)
    : clock_(clock),
      executor_(executor),
      scheduler_(scheduler),
      random_(random),
      logger_(logger),
      metrics_(metrics),
      max_fetches_per_client_(max_fetches_per_client) {}

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
  if (const auto found = entries_.find(key); found != entries_.end()) return found->second;
  auto& client_entries = entries_by_client_[key.client];
  if (client_entries.size() >= kMaxKeysPerClient) return nullptr;
  auto entry = std::make_shared<Entry>();
  entries_.emplace(key, entry);
  client_entries.emplace(key, entry);
  return entry;
}

void TokenCache::Forget(const TokenKey& key, const std::shared_ptr<Entry>& entry) {
  std::unique_lock<std::shared_mutex> lock(entries_mutex_);
  const auto found = entries_.find(key);
  if (found == entries_.end() || found->second != entry) return;
  entries_.erase(found);
  entries_by_client_[key.client].erase(key);
}

size_t TokenCache::KeyCount(const std::string& client) const {
  std::shared_lock<std::shared_mutex> lock(entries_mutex_);
  const auto found = entries_by_client_.find(client);
  return found == entries_by_client_.end() ? 0 : found->second.size();
}

void TokenCache::Get(const TokenQuery& query, FetchFunction fetch, Callback done) {
  GetWithLazyFetch(
      query, [&fetch]() -> FetchFunction { return std::move(fetch); }, std::move(done));
}

void TokenCache::GetWithLazyFetch(const TokenQuery& query,
                                  absl::FunctionRef<FetchFunction()> make_fetch, Callback done) {
  std::shared_ptr<Entry> entry = FindOrCreate(query.key);
  if (entry == nullptr) {
    metrics_.TokenRequest(query.key.client, "error", "RESOURCE_EXHAUSTED");
    done(absl::ResourceExhaustedError(absl::StrCat(
        "client \"", query.key.client, "\" already has ", kMaxKeysPerClient,
        " cached tokens for distinct scopes and audiences; ask for fewer combinations")));
    return;
  }
  std::unique_lock<std::mutex> lock(entry->mutex);
  const absl::Time now = clock_.Now();
  entry->RememberPolicy(query);
  entry->used_since_fetch = true;

  if (!query.force_refresh && entry->token != nullptr &&
      IsFreshEnough(*entry->token, query.min_validity, now)) {
    TokenPtr token = entry->token;
    lock.unlock();
    entry->hits.fetch_add(1, std::memory_order_relaxed);
    metrics_.TokenRequest(query.key.client, "hit");
    done(std::move(token));
    return;
  }

  entry->fetch = make_fetch();
  entry->misses.fetch_add(1, std::memory_order_relaxed);
  if (entry->fetch_in_flight) {
    AddWaiterLocked(query.key.client, *entry, std::move(done));
    return;
  }
  if (now < entry->retry_not_before) {
    // The provider failed recently: answering from memory keeps a burst of callers from
    // turning into a burst of provider requests.
    const absl::Status error = WithNextAttempt(entry->last_error, entry->retry_not_before - now);
    lock.unlock();
    metrics_.TokenRequest(query.key.client, "error", absl::StatusCodeToString(error.code()));
    done(error);
    return;
  }
  AddWaiterLocked(query.key.client, *entry, std::move(done));
  StartFetchLocked(query.key, entry);
}

void TokenCache::AddWaiterLocked(const std::string& client, Entry& entry, Callback done) {
  metrics_.WaitersChanged(client, 1);
  entry.waiters.push_back([this, client, done = std::move(done)](absl::StatusOr<TokenPtr> token) {
    metrics_.WaitersChanged(client, -1);
    metrics_.TokenRequest(client, token.ok() ? "miss" : "error",
                          absl::StatusCodeToString(token.status().code()));
    done(std::move(token));
  });
}

void TokenCache::Warm(const TokenQuery& query, FetchFunction fetch) {
  std::shared_ptr<Entry> entry = FindOrCreate(query.key);
  if (entry == nullptr) return;
  std::lock_guard<std::mutex> lock(entry->mutex);
  const absl::Time now = clock_.Now();
  entry->Remember(query, std::move(fetch));
  if (entry->fetch_in_flight || now < entry->retry_not_before) return;
  if (entry->token != nullptr && IsFreshEnough(*entry->token, query.min_validity, now)) return;
  StartFetchLocked(query.key, entry);
}

void TokenCache::StartFetchLocked(const TokenKey& key, const std::shared_ptr<Entry>& entry) {
  entry->fetch_in_flight = true;
  entry->fetches.fetch_add(1, std::memory_order_relaxed);
  Dispatch(key.client, [this, key, entry] { RunFetch(key, entry); });
}

void TokenCache::Dispatch(const std::string& client, std::function<void()> fetch) {
  {
    std::lock_guard<std::mutex> lock(fetches_mutex_);
    ClientFetches& fetches = fetches_by_client_[client];
    if (fetches.running >= max_fetches_per_client_) {
      fetches.waiting.push_back(std::move(fetch));
      return;
    }
    ++fetches.running;
  }
  executor_.Schedule([this, client, fetch = std::move(fetch)] { RunAndRelease(client, fetch); });
}

void TokenCache::RunAndRelease(const std::string& client, const std::function<void()>& fetch) {
  fetch();

  std::function<void()> next;
  {
    std::lock_guard<std::mutex> lock(fetches_mutex_);
    ClientFetches& fetches = fetches_by_client_[client];
    if (fetches.waiting.empty()) {
      --fetches.running;
      return;
    }
    next = std::move(fetches.waiting.front());
    fetches.waiting.pop_front();
  }
  executor_.Schedule([this, client, next = std::move(next)] { RunAndRelease(client, next); });
}

absl::Time TokenCache::RenewalTime(const CachedToken& token, const Entry& entry) {
  const absl::Duration lifetime = token.expires_at - token.obtained_at;
  const RefreshPolicy& policy = entry.policy;
  const double share = policy.refresh_at - policy.jitter * random_.Uniform();
  absl::Time when = token.obtained_at + lifetime * std::max(share, 0.0);

  // Renew before the token stops satisfying callers that use the client's default, so that
  // they never wait on the provider. When the share of the lifetime would come after that
  // point, it is taken of the time until that point instead: renewing at the point itself would
  // leave no time for the fetch, and every caller during it would wait (tests/bench scenario 3).
  const absl::Duration floor = std::min(entry.client_min_validity, lifetime / 2);
  const absl::Time usable_until = token.expires_at - floor;
  if (when >= usable_until) {
    when = token.obtained_at + (usable_until - token.obtained_at) * std::max(share, 0.0);
  }
  return std::max(when, token.obtained_at + kMinRenewalDelay);
}

absl::Duration TokenCache::FailureWait(const absl::Status& error, uint32_t failures,
                                       const RefreshPolicy& policy) {
  const RetryPolicy& retry = policy.retry;
  const absl::Duration floor = retry.base / 10;
  if (std::optional<absl::Duration> retry_after = RetryAfterOf(error)) {
    return std::clamp(*retry_after, floor, retry.max_retry_after);
  }
  if (FailureKindOf(error) == FailureKind::kDefinitive) return policy.negative_cache_ttl;

  // Full jitter (a uniform wait up to the exponential ceiling) spreads the retries of many
  // replicas instead of synchronising them.
  const int exponent = static_cast<int>(std::min<uint32_t>(failures, 31)) - 1;
  const absl::Duration ceiling = std::min(retry.cap, retry.base * std::ldexp(1.0, exponent));
  return std::max(floor, ceiling * random_.Uniform());
}

void TokenCache::RunFetch(const TokenKey& key, const std::shared_ptr<Entry>& entry) {
  FetchFunction fetch;
  {
    std::lock_guard<std::mutex> lock(entry->mutex);
    fetch = entry->fetch;
  }
  absl::StatusOr<FetchedToken> fetched = fetch();
  const absl::Time now = clock_.Now();

  absl::StatusOr<TokenPtr> result;
  std::vector<Callback> waiters;
  bool first_token = false;
  bool recovered = false;
  bool retired = false;
  uint32_t failures = 0;
  absl::Duration wait;
  {
    std::lock_guard<std::mutex> lock(entry->mutex);
    entry->fetch_in_flight = false;
    waiters.swap(entry->waiters);
    retired = entry->retired;
    if (retired) {
      result = absl::UnavailableError(
          "the client's credentials changed while its token was being fetched; ask again");
    } else if (fetched.ok()) {
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
      entry->last_error_definitive = false;
      entry->consecutive_failures = 0;
      entry->retry_not_before = absl::InfinitePast();
      entry->used_since_fetch = false;
      PlanAttemptLocked(key, entry, RenewalTime(*token, *entry), /*is_renewal=*/true);
      result = TokenPtr(std::move(token));
    } else {
      failures = ++entry->consecutive_failures;
      wait = FailureWait(fetched.status(), failures, entry->policy);
      if (RetryAfterOf(fetched.status()).has_value()) metrics_.Throttled(key.client);
      entry->last_error = fetched.status();
      entry->last_error_definitive = FailureKindOf(fetched.status()) == FailureKind::kDefinitive;
      entry->retry_not_before = now + wait;

      // Definitive answers are not retried in a loop: the next caller after the wait asks again.
      const bool valid_token = entry->token != nullptr && entry->token->expires_at > now;
      const bool wanted = entry->keep_warm || entry->used_since_fetch || !waiters.empty();
      const bool keep_trying =
          valid_token || failures < static_cast<uint32_t>(entry->policy.retry.max_attempts);
      if (!entry->last_error_definitive && wanted && keep_trying) {
        PlanAttemptLocked(key, entry, entry->retry_not_before, /*is_renewal=*/false);
      } else {
        entry->planned_at = absl::InfiniteFuture();
        ++entry->plan;
      }
      result = WithNextAttempt(fetched.status(), wait);
    }
  }

  if (retired) {
    logger_.Info("cache", "retired_fetch_discarded", {{"client", key.client}});
  } else if (result.ok()) {
    const std::string expires_in = Seconds((*result)->expires_at - now);
    const std::string fingerprint = Fingerprint((*result)->access_token);
    logger_.Log(first_token || recovered ? LogLevel::kInfo : LogLevel::kDebug, "cache",
                first_token ? "first_token" : (recovered ? "recovered" : "token_fetched"),
                {{"client", key.client},
                 {"scopes", key.scopes},
                 {"expires_in", expires_in},
                 {"token_fingerprint", fingerprint}});
  } else {
    logger_.Warning("cache", "fetch_failed",
                    {{"client", key.client},
                     {"scopes", key.scopes},
                     {"code", absl::StatusCodeToString(fetched.status().code())},
                     {"cause", std::string(fetched.status().message())},
                     {"consecutive_failures", absl::StrCat(failures)},
                     {"next_attempt_in", Seconds(wait)}});
  }

  // The observer first: once a caller has its token, health already reflects it.
  if (fetch_observer_) fetch_observer_();
  for (Callback& waiter : waiters) waiter(result);
}

void TokenCache::PlanAttemptLocked(const TokenKey& key, const std::shared_ptr<Entry>& entry,
                                   absl::Time when, bool is_renewal) {
  const uint64_t plan = ++entry->plan;
  entry->planned_at = when;
  entry->planned_is_renewal = is_renewal;
  std::weak_ptr<Entry> weak_entry = entry;
  scheduler_.RunAt(when,
                   [this, key, weak_entry, plan] { OnPlannedAttempt(key, weak_entry, plan); });
}

void TokenCache::OnPlannedAttempt(const TokenKey& key, const std::weak_ptr<Entry>& weak_entry,
                                  uint64_t plan) {
  std::shared_ptr<Entry> entry = weak_entry.lock();
  if (entry == nullptr) return;

  std::unique_lock<std::mutex> lock(entry->mutex);
  if (plan != entry->plan || entry->fetch_in_flight) return;
  entry->planned_at = absl::InfiniteFuture();

  // A token nobody asked for since the last renewal is let lapse and forgotten, so that keys
  // used once do not hold memory; the next caller fetches anew.
  if (entry->planned_is_renewal && !entry->keep_warm && !entry->used_since_fetch) {
    logger_.Debug("cache", "renewal_skipped", {{"client", key.client}, {"scopes", key.scopes}});
    lock.unlock();
    Forget(key, entry);
    return;
  }
  if (!entry->planned_is_renewal) metrics_.Retry(key.client);
  StartFetchLocked(key, entry);
}

void TokenCache::RetireOtherCredentials(const std::string& client,
                                        const std::string& current_fingerprint) {
  std::vector<std::shared_ptr<Entry>> retired;
  {
    std::unique_lock<std::shared_mutex> lock(entries_mutex_);
    auto& client_entries = entries_by_client_[client];
    for (auto it = client_entries.begin(); it != client_entries.end();) {
      if (it->first.credential_fingerprint != current_fingerprint) {
        retired.push_back(it->second);
        entries_.erase(it->first);
        client_entries.erase(it++);
      } else {
        ++it;
      }
    }
  }
  for (const std::shared_ptr<Entry>& entry : retired) {
    std::lock_guard<std::mutex> lock(entry->mutex);
    entry->retired = true;
    ++entry->plan;
  }
}

void TokenCache::ClearFailureWaits(const std::string& client) {
  std::shared_lock<std::shared_mutex> lock(entries_mutex_);
  const auto client_entries = entries_by_client_.find(client);
  if (client_entries == entries_by_client_.end()) return;
  for (const auto& [key, entry] : client_entries->second) {
    std::lock_guard<std::mutex> entry_lock(entry->mutex);
    entry->retry_not_before = absl::InfinitePast();
  }
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
  snapshot.last_error_definitive = entry->last_error_definitive;
  snapshot.consecutive_failures = entry->consecutive_failures;
  snapshot.next_attempt = entry->planned_at;
  snapshot.retry_not_before = entry->retry_not_before;
  return snapshot;
}

CacheCounters TokenCache::CountersFor(const std::string& client) const {
  CacheCounters counters;
  std::shared_lock<std::shared_mutex> lock(entries_mutex_);
  const auto client_entries = entries_by_client_.find(client);
  if (client_entries == entries_by_client_.end()) return counters;
  for (const auto& [key, entry] : client_entries->second) {
    counters.hits += entry->hits.load(std::memory_order_relaxed);
    counters.misses += entry->misses.load(std::memory_order_relaxed);
    counters.fetches += entry->fetches.load(std::memory_order_relaxed);
  }
  return counters;
}

}  // namespace agentauth
