#include "server/cache/token_cache.h"

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/common/failure.h"
#include "tests/testing/captured_log.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_scheduler.h"
#include "tests/testing/manual_executor.h"
#include "tests/testing/status_printing.h"

namespace agentauth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Hands out tok-1, tok-2, ... and counts how often it was asked; or fails when told to.
class FakeProvider {
 public:
  TokenCache::FetchFunction Fetch() {
    return [this]() -> absl::StatusOr<FetchedToken> {
      const int n = ++calls_;
      if (!failure_.ok()) return failure_;
      return FetchedToken{absl::StrCat("tok-", n), {"api.read"}, lifetime_};
    };
  }

  void FailWith(absl::Status status) { failure_ = std::move(status); }
  void SetLifetime(absl::Duration lifetime) { lifetime_ = lifetime; }
  int calls() const { return calls_; }

 private:
  std::atomic<int> calls_{0};
  absl::Status failure_;
  absl::Duration lifetime_ = absl::Seconds(3600);
};

// What one caller got.
struct Outcome {
  bool called = false;
  absl::StatusOr<TokenCache::TokenPtr> result = absl::UnknownError("not called");

  TokenCache::Callback Callback() {
    return [this](absl::StatusOr<TokenCache::TokenPtr> token) {
      EXPECT_FALSE(called) << "a callback runs exactly once";
      called = true;
      result = std::move(token);
    };
  }
  std::string token() const { return result.ok() ? (*result)->access_token : "<error>"; }
};

class TokenCacheTest : public ::testing::Test {
 protected:
  TokenCacheTest() : logger_(clock_, LogLevel::kDebug, LogFormat::kText, log_.Sink()) {}

  static TokenQuery Query(absl::Duration min_validity = absl::Seconds(60), bool force = false) {
    TokenQuery query;
    query.key = TokenKey{"reports", "api.read", "", "fp1"};
    query.min_validity = min_validity;
    query.force_refresh = force;
    return query;
  }

  // One Get, with the fetch (if any) run to completion.
  Outcome GetNow(const TokenQuery& query) {
    Outcome outcome;
    cache_.Get(query, provider_.Fetch(), outcome.Callback());
    executor_.RunAll();
    return outcome;
  }

  testing::FakeClock clock_;
  testing::CapturedLog log_;
  Logger logger_;
  // Advances time, running planned renewals and retries and the fetches they start, each at
  // its own time.
  void Advance(absl::Duration duration) {
    const absl::Time end = clock_.Now() + duration;
    while (scheduler_.NextDue() <= end) {
      scheduler_.Advance(std::max(scheduler_.NextDue() - clock_.Now(), absl::ZeroDuration()));
      executor_.RunAll();
    }
    scheduler_.Advance(end - clock_.Now());
    executor_.RunAll();
  }

  testing::ManualExecutor executor_;
  testing::FakeScheduler scheduler_{clock_};
  testing::FixedRandom random_{0.5};
  FakeProvider provider_;
  Metrics metrics_{"test"};
  TokenCache cache_{clock_, executor_, scheduler_, random_, logger_, metrics_};
};

TEST_F(TokenCacheTest, FirstCallFetchesAndSecondIsAHit) {
  Outcome first = GetNow(Query());
  Outcome second;
  cache_.Get(Query(), provider_.Fetch(), second.Callback());

  EXPECT_EQ(first.token(), "tok-1");
  EXPECT_TRUE(second.called) << "a hit answers at once, on the caller's thread";
  EXPECT_EQ(second.token(), "tok-1");
  EXPECT_EQ(provider_.calls(), 1);
  EXPECT_EQ(executor_.Pending(), 0u);
  const CacheCounters counters = cache_.CountersFor("reports");
  EXPECT_EQ(counters.hits, 1u);
  EXPECT_EQ(counters.misses, 1u);
  EXPECT_EQ(counters.fetches, 1u);
}

TEST_F(TokenCacheTest, ExpiryIsTheReceiptTimePlusTheLifetime) {
  const absl::Time start = clock_.Now();

  Outcome outcome = GetNow(Query());

  ASSERT_TRUE(outcome.result.ok());
  EXPECT_EQ((*outcome.result)->obtained_at, start);
  EXPECT_EQ((*outcome.result)->expires_at, start + absl::Seconds(3600));
}

TEST_F(TokenCacheTest, ThousandConcurrentCallersOfAColdKeyShareOneFetch) {
  constexpr int kCallers = 1000;
  std::vector<Outcome> outcomes(kCallers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCallers; ++i) {
    threads.emplace_back(
        [&, i] { cache_.Get(Query(), provider_.Fetch(), outcomes[i].Callback()); });
  }
  for (std::thread& thread : threads) thread.join();

  EXPECT_EQ(executor_.RunAll(), 1u);

  EXPECT_EQ(provider_.calls(), 1);
  for (const Outcome& outcome : outcomes) {
    ASSERT_TRUE(outcome.called);
    EXPECT_EQ(outcome.token(), "tok-1");
  }
  EXPECT_EQ(cache_.CountersFor("reports").misses, static_cast<uint64_t>(kCallers));
}

TEST_F(TokenCacheTest, TokenWithLessThanMinValidityLeftIsFetchedAnewOnce) {
  GetNow(Query());
  clock_.Advance(absl::Seconds(3600 - 60));

  Outcome refreshed = GetNow(Query());
  Outcome after = GetNow(Query());

  EXPECT_EQ(refreshed.token(), "tok-2");
  EXPECT_EQ(after.token(), "tok-2");
  EXPECT_EQ(provider_.calls(), 2);
}

TEST_F(TokenCacheTest, TokenJustAboveMinValidityIsStillServed) {
  GetNow(Query());
  clock_.Advance(absl::Seconds(3600 - 61));

  EXPECT_EQ(GetNow(Query()).token(), "tok-1");
  EXPECT_EQ(provider_.calls(), 1);
}

TEST_F(TokenCacheTest, CallerMayAskForMoreValidity) {
  GetNow(Query());
  clock_.Advance(absl::Minutes(56));

  EXPECT_EQ(GetNow(Query(absl::Minutes(1))).token(), "tok-1");
  EXPECT_EQ(GetNow(Query(absl::Minutes(5))).token(), "tok-2");
}

TEST_F(TokenCacheTest, ShortLivedTokensAreKeptForHalfTheirLifetime) {
  provider_.SetLifetime(absl::Seconds(30));
  GetNow(Query());

  clock_.Advance(absl::Seconds(14));
  Outcome before_half = GetNow(Query());
  clock_.Advance(absl::Seconds(2));
  Outcome after_half = GetNow(Query());

  EXPECT_EQ(before_half.token(), "tok-1") << "a 60 s floor must not refetch a 30 s token";
  EXPECT_EQ(after_half.token(), "tok-2");
}

TEST_F(TokenCacheTest, CountersKeysAndRetirementConcernOnlyTheirOwnClient) {
  TokenQuery exports = Query();
  exports.key.client = "exports";
  TokenQuery exports_audience = exports;
  exports_audience.key.audience = "https://api.example.com";
  GetNow(Query());
  GetNow(Query());
  GetNow(exports);
  GetNow(exports_audience);

  cache_.RetireOtherCredentials("reports", "fp2");

  EXPECT_EQ(cache_.KeyCount("reports"), 0u);
  EXPECT_EQ(cache_.CountersFor("reports").hits, 0u) << "its only key was retired";
  EXPECT_EQ(cache_.KeyCount("exports"), 2u);
  const CacheCounters counters = cache_.CountersFor("exports");
  EXPECT_EQ(counters.hits, 0u);
  EXPECT_EQ(counters.misses, 2u);
  EXPECT_EQ(counters.fetches, 2u);
  EXPECT_EQ(GetNow(exports).token(), "tok-2") << "still cached";
}

TEST_F(TokenCacheTest, LazyFetchIsMadeOnlyWhenTheCacheCannotAnswer) {
  int made = 0;
  const auto make_fetch = [&] {
    ++made;
    return provider_.Fetch();
  };
  Outcome miss;
  cache_.GetWithLazyFetch(Query(), make_fetch, miss.Callback());
  executor_.RunAll();
  Outcome hit;
  cache_.GetWithLazyFetch(Query(), make_fetch, hit.Callback());
  Outcome forced;
  cache_.GetWithLazyFetch(Query(absl::Seconds(60), /*force=*/true), make_fetch, forced.Callback());
  executor_.RunAll();

  EXPECT_EQ(miss.token(), "tok-1");
  EXPECT_EQ(hit.token(), "tok-1");
  EXPECT_EQ(forced.token(), "tok-2");
  EXPECT_EQ(made, 2) << "the miss and the forced refresh made one each; the hit none";
}

TEST_F(TokenCacheTest, ForcedRefreshFetchesAnewEvenWhenFresh) {
  GetNow(Query());

  Outcome forced = GetNow(Query(absl::Seconds(60), /*force=*/true));

  EXPECT_EQ(forced.token(), "tok-2");
  EXPECT_EQ(GetNow(Query()).token(), "tok-2");
}

TEST_F(TokenCacheTest, ConcurrentForcedRefreshesShareOneFetch) {
  GetNow(Query());
  std::vector<Outcome> outcomes(50);

  for (Outcome& outcome : outcomes) {
    cache_.Get(Query(absl::Seconds(60), /*force=*/true), provider_.Fetch(), outcome.Callback());
  }
  executor_.RunAll();

  EXPECT_EQ(provider_.calls(), 2);
  for (const Outcome& outcome : outcomes) EXPECT_EQ(outcome.token(), "tok-2");
}

TEST_F(TokenCacheTest, FailureReachesEveryWaiterWithTheTimeOfTheNextAttempt) {
  provider_.FailWith(absl::UnavailableError("connection refused"));
  std::vector<Outcome> outcomes(3);

  for (Outcome& outcome : outcomes) cache_.Get(Query(), provider_.Fetch(), outcome.Callback());
  executor_.RunAll();

  for (const Outcome& outcome : outcomes) {
    EXPECT_EQ(outcome.result.status().code(), absl::StatusCode::kUnavailable);
    // First transient failure: full jitter up to base (1 s) with random 0.5.
    EXPECT_EQ(outcome.result.status().message(), "connection refused; next attempt in 1s");
  }
  EXPECT_EQ(provider_.calls(), 1);
}

TEST_F(TokenCacheTest, CallersDuringTheBackoffFailFastWithoutAskingTheProvider) {
  provider_.FailWith(absl::UnavailableError("connection refused"));
  GetNow(Query());

  Outcome during = GetNow(Query());

  EXPECT_EQ(during.result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(during.result.status().message()), HasSubstr("next attempt in"));
  EXPECT_EQ(provider_.calls(), 1);
}

TEST_F(TokenCacheTest, RecoveryIsSeenByTheNextAttemptAfterTheBackoff) {
  provider_.FailWith(absl::UnavailableError("connection refused"));
  GetNow(Query());
  provider_.FailWith(absl::OkStatus());

  Advance(absl::Seconds(1));
  Outcome recovered = GetNow(Query());

  EXPECT_EQ(recovered.token(), "tok-2") << "the background retry fetched it";
  EXPECT_EQ(provider_.calls(), 2);
}

TEST_F(TokenCacheTest, SnapshotTracksSuccessAndFailures) {
  const TokenKey key = Query().key;
  EXPECT_EQ(cache_.Snapshot(key).token, nullptr);

  GetNow(Query());
  provider_.FailWith(absl::UnavailableError("down"));
  GetNow(Query(absl::Seconds(60), /*force=*/true));
  Advance(absl::Seconds(1));

  const TokenEntrySnapshot snapshot = cache_.Snapshot(key);
  ASSERT_NE(snapshot.token, nullptr);
  EXPECT_EQ(snapshot.token->access_token, "tok-1") << "a failure keeps the last good token";
  EXPECT_EQ(snapshot.consecutive_failures, 2u) << "the forced call and one background retry";
  EXPECT_EQ(snapshot.last_error.message(), "down");
  EXPECT_FALSE(snapshot.last_error_definitive);
  EXPECT_FALSE(snapshot.fetch_in_flight);
  EXPECT_EQ(snapshot.next_attempt, snapshot.retry_not_before);
}

TEST_F(TokenCacheTest, SnapshotShowsAFetchInFlight) {
  Outcome waiting;
  cache_.Get(Query(), provider_.Fetch(), waiting.Callback());

  EXPECT_TRUE(cache_.Snapshot(Query().key).fetch_in_flight);
  EXPECT_FALSE(waiting.called);
  executor_.RunAll();
  EXPECT_TRUE(waiting.called);
}

TEST_F(TokenCacheTest, KeysDifferingInAnyPartDoNotShareTokens) {
  TokenQuery other_scopes = Query();
  other_scopes.key.scopes = "api.write";
  TokenQuery other_audience = Query();
  other_audience.key.audience = "https://api.example.test";
  TokenQuery rotated_secret = Query();
  rotated_secret.key.credential_fingerprint = "fp2";

  GetNow(Query());
  GetNow(other_scopes);
  GetNow(other_audience);
  GetNow(rotated_secret);

  EXPECT_EQ(provider_.calls(), 4);
}

TEST_F(TokenCacheTest, LogsStateChangesWithoutTheToken) {
  GetNow(Query());
  provider_.FailWith(absl::UnavailableError("down"));
  GetNow(Query(absl::Seconds(60), /*force=*/true));
  provider_.FailWith(absl::OkStatus());
  Advance(absl::Seconds(1));

  const std::vector<std::string> lines = log_.Lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_THAT(lines[0], HasSubstr("INFO cache first_token client=reports"));
  EXPECT_THAT(lines[1], HasSubstr("WARNING cache fetch_failed client=reports"));
  EXPECT_THAT(lines[1], HasSubstr("next_attempt_in=1s"));
  EXPECT_THAT(lines[2], HasSubstr("INFO cache recovered client=reports"));
  for (const std::string& line : lines) EXPECT_THAT(line, Not(HasSubstr("tok-")));
}

// Lifecycle on the injected clock: renewal, outages, recovery, throttling, negative caching.
class TokenLifecycleTest : public TokenCacheTest {
 protected:
  static absl::Status Throttled(absl::Duration retry_after) {
    return WithRetryAfter(WithFailureKind(absl::UnavailableError("the provider is throttling "
                                                                 "requests: HTTP 429"),
                                          FailureKind::kTransient),
                          retry_after);
  }
  static absl::Status Rejected() {
    return WithFailureKind(absl::FailedPreconditionError("invalid_client"),
                           FailureKind::kDefinitive);
  }
};

TEST_F(TokenLifecycleTest, RenewalHappensAtTheConfiguredPointWhileTheOldTokenIsServed) {
  TokenQuery warm = Query();
  warm.keep_warm = true;
  cache_.Warm(warm, provider_.Fetch());
  executor_.RunAll();

  // refresh_at 0.75 minus half the 5 % jitter: 72.5 % of 3600 s.
  Advance(absl::Seconds(2609));
  Outcome before = GetNow(Query());
  Advance(absl::Seconds(1));
  Outcome after = GetNow(Query());

  EXPECT_EQ(before.token(), "tok-1");
  EXPECT_EQ(after.token(), "tok-2");
  EXPECT_EQ(provider_.calls(), 2);
  EXPECT_EQ(cache_.CountersFor("reports").misses, 0u) << "no caller ever waited";
}

TEST_F(TokenLifecycleTest, ShortLivedTokensRenewBeforeTheMinValidityFloorWithoutLooping) {
  provider_.SetLifetime(absl::Seconds(30));
  TokenQuery warm = Query();
  warm.keep_warm = true;
  cache_.Warm(warm, provider_.Fetch());
  executor_.RunAll();

  Advance(absl::Seconds(60));

  // The token satisfies callers for half its lifetime (the 60 s floor clamped to 15 s); it is
  // renewed at 72.5 % of that, every 10.875 s: 5 renewals in 60 s.
  EXPECT_EQ(provider_.calls(), 6);
  EXPECT_EQ(GetNow(Query()).token(), "tok-6");
}

TEST_F(TokenLifecycleTest, ShortLivedTokensAreRenewedWhileTheOldOneStillSatisfiesCallers) {
  provider_.SetLifetime(absl::Seconds(20));
  TokenQuery warm = Query();
  warm.keep_warm = true;
  cache_.Warm(warm, provider_.Fetch());
  executor_.RunAll();

  // The renewal is due at 7.25 s (72.5 % of the 10 s the token satisfies callers); its fetch
  // is still running 2 s later.
  scheduler_.Advance(absl::Seconds(7.25));
  const size_t renewals_started = executor_.Pending();
  scheduler_.Advance(absl::Seconds(2));
  Outcome during_fetch;
  cache_.Get(Query(), provider_.Fetch(), during_fetch.Callback());

  EXPECT_EQ(renewals_started, 1u);
  EXPECT_TRUE(during_fetch.called) << "answered from the cache, not after the fetch";
  EXPECT_EQ(during_fetch.token(), "tok-1");
  EXPECT_EQ(cache_.CountersFor("reports").misses, 0u) << "no caller waited on the provider";
}

TEST_F(TokenLifecycleTest, UnusedTokensWithoutKeepWarmLapse) {
  GetNow(Query());

  Advance(absl::Hours(2));

  EXPECT_EQ(provider_.calls(), 1) << "nobody used it, so it was not renewed";
  EXPECT_EQ(GetNow(Query()).token(), "tok-2");
}

TEST_F(TokenLifecycleTest, OutageSpanningTheRenewalPointServesTheOldTokenAsDegraded) {
  TokenQuery warm = Query();
  warm.keep_warm = true;
  cache_.Warm(warm, provider_.Fetch());
  executor_.RunAll();
  provider_.FailWith(absl::UnavailableError("connection refused"));

  Advance(absl::Seconds(2700));
  Outcome during_outage = GetNow(Query());

  EXPECT_EQ(during_outage.token(), "tok-1");
  const TokenEntrySnapshot snapshot = cache_.Snapshot(Query().key);
  EXPECT_GT(snapshot.consecutive_failures, 1u) << "background retries continue";
  EXPECT_EQ(snapshot.last_error.message(), "connection refused");
  EXPECT_NE(snapshot.next_attempt, absl::InfiniteFuture());
}

TEST_F(TokenLifecycleTest, OutagePastExpiryFailsFastThenRecovers) {
  TokenQuery warm = Query();
  warm.keep_warm = true;
  cache_.Warm(warm, provider_.Fetch());
  executor_.RunAll();
  provider_.FailWith(absl::UnavailableError("connection refused"));
  Advance(absl::Seconds(3600 - 59));
  const int calls_before = provider_.calls();

  Outcome expired = GetNow(Query());
  provider_.FailWith(absl::OkStatus());
  Advance(absl::Seconds(61));
  Outcome recovered = GetNow(Query());

  EXPECT_EQ(expired.result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(expired.result.status().message()),
              HasSubstr("connection refused; next attempt in"));
  EXPECT_EQ(provider_.calls(), calls_before + 1) << "only the background retry asked";
  EXPECT_THAT(recovered.token(), ::testing::StartsWith("tok-"));
  EXPECT_TRUE(recovered.result.ok());
}

TEST_F(TokenLifecycleTest, BackoffGrowsExponentiallyUpToTheCap) {
  random_.Set(0.999);
  provider_.FailWith(absl::UnavailableError("down"));
  TokenQuery warm = Query();
  warm.keep_warm = true;
  warm.policy.retry.max_attempts = 100;
  cache_.Warm(warm, provider_.Fetch());
  executor_.RunAll();

  std::vector<int64_t> waits;
  for (int i = 0; i < 9; ++i) {
    const absl::Time now = clock_.Now();
    waits.push_back(absl::ToInt64Seconds(scheduler_.NextDue() - now + absl::Milliseconds(999)));
    Advance(scheduler_.NextDue() - now);
  }

  EXPECT_THAT(waits, ::testing::ElementsAre(1, 2, 4, 8, 16, 32, 60, 60, 60));
}

TEST_F(TokenLifecycleTest, RetriesWithoutAValidTokenStopAfterMaxAttempts) {
  provider_.FailWith(absl::UnavailableError("down"));
  TokenQuery query = Query();
  query.policy.retry.max_attempts = 3;
  Outcome first;
  cache_.Get(query, provider_.Fetch(), first.Callback());
  executor_.RunAll();

  Advance(absl::Hours(1));

  EXPECT_EQ(provider_.calls(), 3);
  EXPECT_EQ(scheduler_.NextDue(), absl::InfiniteFuture());
}

TEST_F(TokenLifecycleTest, RetryAfterInSecondsIsHonouredAndCapped) {
  provider_.FailWith(Throttled(absl::Seconds(60)));
  GetNow(Query());
  EXPECT_EQ(scheduler_.NextDue() - clock_.Now(), absl::Seconds(60));

  provider_.FailWith(Throttled(absl::Hours(100)));
  Advance(absl::Seconds(60));

  EXPECT_EQ(scheduler_.NextDue() - clock_.Now(), absl::Minutes(5)) << "max_retry_after";
  EXPECT_EQ(provider_.calls(), 2);
}

TEST_F(TokenLifecycleTest, FiveHundredCallersOfAColdKeyDuringThrottlingMakeTwoRequests) {
  provider_.FailWith(Throttled(absl::Seconds(60)));
  std::vector<Outcome> first_wave(500);
  for (Outcome& outcome : first_wave) cache_.Get(Query(), provider_.Fetch(), outcome.Callback());
  executor_.RunAll();
  std::vector<Outcome> during_wait(500);
  for (Outcome& outcome : during_wait) cache_.Get(Query(), provider_.Fetch(), outcome.Callback());
  provider_.FailWith(absl::OkStatus());

  Advance(absl::Seconds(59));
  const int calls_before_retry_after = provider_.calls();
  Advance(absl::Seconds(1));

  EXPECT_EQ(calls_before_retry_after, 1);
  EXPECT_EQ(provider_.calls(), 2);
  for (const Outcome& outcome : during_wait) {
    EXPECT_THAT(std::string(outcome.result.status().message()),
                HasSubstr("throttling requests: HTTP 429; next attempt in 1m"));
  }
  EXPECT_EQ(GetNow(Query()).token(), "tok-2");
}

TEST_F(TokenLifecycleTest, DefinitiveRejectionIsNegativelyCachedAndNotRetriedInALoop) {
  provider_.FailWith(Rejected());

  for (int i = 0; i < 100; ++i) {
    GetNow(Query());
    Advance(absl::Milliseconds(100));
  }

  EXPECT_EQ(provider_.calls(), 1) << "100 calls in 10 s, negative cache of 10 s";
  Advance(absl::Seconds(1));
  EXPECT_EQ(provider_.calls(), 1) << "no background retry of a definitive answer";
  GetNow(Query());
  EXPECT_EQ(provider_.calls(), 2) << "the next caller after the window asks again";
}

TEST_F(TokenLifecycleTest, ClearingFailureWaitsLetsTheNextCallReachTheProvider) {
  provider_.FailWith(Rejected());
  GetNow(Query());
  provider_.FailWith(absl::OkStatus());

  cache_.ClearFailureWaits("reports");
  Outcome after_reload = GetNow(Query());

  EXPECT_EQ(after_reload.token(), "tok-2");
}

TEST_F(TokenLifecycleTest, RetiredCredentialsAreDroppedAndTheirFetchIsNotHandedOut) {
  TokenQuery old_secret = Query();
  old_secret.keep_warm = true;
  GetNow(old_secret);
  Outcome waiting;
  cache_.Get(Query(absl::Seconds(60), /*force=*/true), provider_.Fetch(), waiting.Callback());

  cache_.RetireOtherCredentials("reports", "fp2");
  executor_.RunAll();
  Advance(absl::Hours(2));

  EXPECT_EQ(waiting.result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(waiting.result.status().message()), HasSubstr("credentials changed"));
  EXPECT_EQ(cache_.Snapshot(old_secret.key).token, nullptr) << "the old key is gone";
  EXPECT_EQ(provider_.calls(), 2) << "no renewal of a retired key";
}

TEST_F(TokenCacheTest, OneClientsFetchesQueueBehindItsOwnLimitNotOthers) {
  // The default limit is 2 fetches per client. Five cold keys of "reports", one of "exports".
  for (int i = 0; i < 5; ++i) {
    TokenQuery query = Query();
    query.key.audience = absl::StrCat("https://api", i, ".example.test");
    cache_.Get(query, provider_.Fetch(), [](absl::StatusOr<TokenCache::TokenPtr>) {});
  }
  TokenQuery other = Query();
  other.key.client = "exports";
  Outcome exports;
  cache_.Get(other, provider_.Fetch(), exports.Callback());

  EXPECT_EQ(executor_.Pending(), 3u) << "two of reports, one of exports; three reports wait";
  EXPECT_EQ(executor_.RunAll(), 6u) << "each finished fetch lets the next one of its client go";
  EXPECT_TRUE(exports.result.ok());
  EXPECT_EQ(provider_.calls(), 6);
}

TEST_F(TokenCacheTest, KeysPerClientAreBoundedAndLapsedKeysAreForgotten) {
  const auto query_for = [&](size_t i) {
    TokenQuery query = Query();
    query.key.audience = absl::StrCat("https://api", i, ".example.test");
    return query;
  };
  for (size_t i = 0; i < TokenCache::kMaxKeysPerClient; ++i) GetNow(query_for(i));

  Outcome one_too_many = GetNow(query_for(TokenCache::kMaxKeysPerClient));
  TokenQuery other_client = Query();
  other_client.key.client = "exports";
  Outcome other = GetNow(other_client);
  Advance(absl::Hours(1));  // Nobody used them again: their renewals lapse.

  EXPECT_EQ(one_too_many.result.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(one_too_many.result.status().message()),
              HasSubstr("client \"reports\" already has 256 cached tokens"));
  EXPECT_TRUE(other.result.ok()) << "the bound is per client";
  EXPECT_EQ(cache_.KeyCount("reports"), 0u);
  EXPECT_TRUE(GetNow(query_for(TokenCache::kMaxKeysPerClient)).result.ok());
}

TEST_F(TokenLifecycleTest, WarmDoesNotFetchWhatIsAlreadyFresh) {
  GetNow(Query());

  cache_.Warm(Query(), provider_.Fetch());

  EXPECT_EQ(executor_.Pending(), 0u);
  EXPECT_EQ(provider_.calls(), 1);
}

}  // namespace
}  // namespace agentauth
