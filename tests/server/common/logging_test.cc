#include "server/common/logging.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/captured_log.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/status_printing.h"

namespace agentauth {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;

class LoggingTest : public ::testing::Test {
 protected:
  Logger MakeLogger(LogLevel level, LogFormat format) {
    return Logger(clock_, level, format, log_.Sink());
  }

  testing::FakeClock clock_;
  testing::CapturedLog log_;
};

TEST_F(LoggingTest, TextLineHasLevelComponentEventAndFields) {
  Logger logger = MakeLogger(LogLevel::kInfo, LogFormat::kText);

  logger.Info("cache", "first_token", {{"client", "reports"}, {"expires_in", "1h"}});

  ASSERT_EQ(log_.Lines().size(), 1u);
  EXPECT_THAT(log_.Lines()[0], EndsWith(" INFO cache first_token client=reports expires_in=1h"));
}

TEST_F(LoggingTest, ValuesThatWouldBreakTheLineAreQuotedAndEscaped) {
  Logger logger = MakeLogger(LogLevel::kInfo, LogFormat::kText);

  logger.Warning("provider", "odd", {{"detail", "two\nlines \"q\" a=b\x01"}});

  ASSERT_EQ(log_.Lines().size(), 1u);
  EXPECT_THAT(log_.Lines()[0], EndsWith(R"(detail="two\nlines \"q\" a=b\x01")"));
}

TEST_F(LoggingTest, LinesBelowTheLevelAreDropped) {
  Logger logger = MakeLogger(LogLevel::kWarning, LogFormat::kText);

  logger.Info("server", "listening");
  logger.Debug("server", "detail");
  logger.Error("server", "broken");

  ASSERT_EQ(log_.Lines().size(), 1u);
  EXPECT_THAT(log_.Lines()[0], HasSubstr("ERROR server broken"));
}

TEST_F(LoggingTest, JsonLineIsOneParseableObject) {
  Logger logger = MakeLogger(LogLevel::kDebug, LogFormat::kJson);

  logger.Info("cache", "first_token", {{"client", "reports"}, {"detail", "a\nb \xff"}});

  ASSERT_EQ(log_.Lines().size(), 1u);
  const nlohmann::json line = nlohmann::json::parse(log_.Lines()[0]);
  EXPECT_EQ(line["level"], "info");
  EXPECT_EQ(line["component"], "cache");
  EXPECT_EQ(line["event"], "first_token");
  EXPECT_EQ(line["client"], "reports");
  EXPECT_EQ(line["detail"], "a\nb \xef\xbf\xbd") << "invalid UTF-8 is replaced, not fatal";
  EXPECT_TRUE(line.contains("ts"));
}

TEST(LogOptionsTest, LevelsAndFormatsParseOrNameTheBadValue) {
  EXPECT_EQ(*ParseLogLevel("WARNING"), LogLevel::kWarning);
  EXPECT_EQ(*ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_EQ(ParseLogLevel("loud").status().message(),
            "unknown log level \"loud\"; expected debug, info, warning or error");
  EXPECT_EQ(ParseLogFormat("xml").status().message(),
            "unknown log format \"xml\"; expected text or json");
}

}  // namespace
}  // namespace agentauth
