#include "server/http/retry_after.h"

#include "gtest/gtest.h"

namespace agentauth {
namespace {

// Fri, 04 Dec 2026 16:00:00 GMT
const absl::Time kNow = absl::FromUnixSeconds(1796400000);

TEST(RetryAfterTest, DelaySecondsAreTakenAsTheyAre) {
  EXPECT_EQ(ParseRetryAfter("60", kNow), absl::Seconds(60));
  EXPECT_EQ(ParseRetryAfter(" 0 ", kNow), absl::ZeroDuration());
}

TEST(RetryAfterTest, HttpDateIsTheDelayUntilThatTime) {
  EXPECT_EQ(ParseRetryAfter("Fri, 04 Dec 2026 16:02:00 GMT", kNow), absl::Seconds(120));
}

TEST(RetryAfterTest, DateInThePastMeansNoDelay) {
  EXPECT_EQ(ParseRetryAfter("Fri, 04 Dec 2026 15:00:00 GMT", kNow), absl::ZeroDuration());
}

TEST(RetryAfterTest, InvalidValuesAreIgnored) {
  EXPECT_EQ(ParseRetryAfter("-1", kNow), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("soon", kNow), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("", kNow), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("12abc", kNow), std::nullopt);
}

TEST(RetryAfterTest, HugeDelaysAreClampedToADay) {
  EXPECT_EQ(ParseRetryAfter("999999999999", kNow), absl::Hours(24));
}

}  // namespace
}  // namespace agentauth
