#include "server/cache/token_cache.h"

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/captured_log.h"
#include "tests/testing/fake_clock.h"
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
  testing::ManualExecutor executor_;
  FakeProvider provider_;
  TokenCache cache_{clock_, executor_, logger_};
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

TEST_F(TokenCacheTest, FailureReachesEveryWaiterAndIsNotCached) {
  provider_.FailWith(absl::UnavailableError("connection refused"));
  std::vector<Outcome> outcomes(3);
  for (Outcome& outcome : outcomes) cache_.Get(Query(), provider_.Fetch(), outcome.Callback());
  executor_.RunAll();
  provider_.FailWith(absl::OkStatus());

  Outcome recovered = GetNow(Query());

  for (const Outcome& outcome : outcomes) {
    EXPECT_EQ(outcome.result.status().code(), absl::StatusCode::kUnavailable);
  }
  EXPECT_EQ(recovered.token(), "tok-2");
  EXPECT_EQ(provider_.calls(), 2);
}

TEST_F(TokenCacheTest, SnapshotTracksSuccessAndFailures) {
  const TokenKey key = Query().key;
  EXPECT_EQ(cache_.Snapshot(key).token, nullptr);

  GetNow(Query());
  provider_.FailWith(absl::UnavailableError("down"));
  GetNow(Query(absl::Seconds(60), /*force=*/true));
  GetNow(Query(absl::Seconds(60), /*force=*/true));

  const TokenEntrySnapshot snapshot = cache_.Snapshot(key);
  ASSERT_NE(snapshot.token, nullptr);
  EXPECT_EQ(snapshot.token->access_token, "tok-1") << "a failure keeps the last good token";
  EXPECT_EQ(snapshot.consecutive_failures, 2u);
  EXPECT_EQ(snapshot.last_error.message(), "down");
  EXPECT_FALSE(snapshot.fetch_in_flight);
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
  GetNow(Query(absl::Seconds(60), /*force=*/true));

  const std::vector<std::string> lines = log_.Lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_THAT(lines[0], HasSubstr("INFO cache first_token client=reports"));
  EXPECT_THAT(lines[1], HasSubstr("WARNING cache fetch_failed client=reports"));
  EXPECT_THAT(lines[2], HasSubstr("INFO cache recovered client=reports"));
  for (const std::string& line : lines) EXPECT_THAT(line, Not(HasSubstr("tok-")));
}

}  // namespace
}  // namespace agentauth
