#include "server/callers/rate_limiter.h"

#include "gtest/gtest.h"
#include "tests/testing/fake_clock.h"

namespace agentauth {
namespace {

TEST(PerCallerRateLimiterTest, GrantsTheBurstThenSaysWhenTheNextPermitComes) {
  testing::FakeClock clock;
  PerCallerRateLimiter limiter(6, absl::Minutes(1), clock);

  for (int i = 0; i < 6; ++i) EXPECT_EQ(limiter.TryAcquire("cn:a"), std::nullopt) << i;
  const std::optional<absl::Duration> wait = limiter.TryAcquire("cn:a");

  ASSERT_TRUE(wait.has_value());
  EXPECT_EQ(*wait, absl::Seconds(10));
}

TEST(PerCallerRateLimiterTest, RefillsEvenlyOverThePeriod) {
  testing::FakeClock clock;
  PerCallerRateLimiter limiter(6, absl::Minutes(1), clock);
  for (int i = 0; i < 6; ++i) ASSERT_EQ(limiter.TryAcquire("cn:a"), std::nullopt);

  clock.Advance(absl::Seconds(10));

  EXPECT_EQ(limiter.TryAcquire("cn:a"), std::nullopt);
  EXPECT_TRUE(limiter.TryAcquire("cn:a").has_value());
}

TEST(PerCallerRateLimiterTest, CallersHaveBucketsOfTheirOwn) {
  testing::FakeClock clock;
  PerCallerRateLimiter limiter(1, absl::Minutes(1), clock);

  EXPECT_EQ(limiter.TryAcquire("cn:a"), std::nullopt);
  EXPECT_TRUE(limiter.TryAcquire("cn:a").has_value());
  EXPECT_EQ(limiter.TryAcquire("cn:b"), std::nullopt);
}

TEST(PerCallerRateLimiterTest, RemembersAtMostMaxKeys) {
  testing::FakeClock clock;
  PerCallerRateLimiter limiter(1, absl::Minutes(1), clock, /*max_keys=*/100);

  for (int i = 0; i < 1000; ++i) limiter.TryAcquire("peer:" + std::to_string(i));

  EXPECT_LE(limiter.TrackedKeys(), 100u);
}

}  // namespace
}  // namespace agentauth
