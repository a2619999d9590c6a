#include "server/app/daemon_flags.h"

#include "gtest/gtest.h"
#include "tests/testing/status_printing.h"

namespace agentauth {
namespace {

TEST(DaemonFlagsTest, ConfigIsRequired) {
  EXPECT_EQ(ParseDaemonFlags({}).status().message(), "--config FILE is required");
}

TEST(DaemonFlagsTest, EveryFlagInBothSpellings) {
  absl::StatusOr<DaemonFlags> flags = ParseDaemonFlags(
      {"--config=/etc/a.json", "--check-config", "--log-level", "debug", "--log-format=json"});

  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->config_path, "/etc/a.json");
  EXPECT_TRUE(flags->check_config);
  EXPECT_EQ(flags->log_level, LogLevel::kDebug);
  EXPECT_EQ(flags->log_format, LogFormat::kJson);
  EXPECT_EQ(flags->shutdown_grace, absl::Seconds(10));
  EXPECT_FALSE(ParseDaemonFlags({"--config=a", "--no-reflection"})->reflection);
  EXPECT_EQ(ParseDaemonFlags({"--config=a", "--shutdown-grace=2s"})->shutdown_grace,
            absl::Seconds(2));
}

TEST(DaemonFlagsTest, InsecureAllowAnyCallerIsOffUnlessGiven) {
  EXPECT_FALSE(ParseDaemonFlags({"--config=a"})->insecure_allow_any_caller);
  EXPECT_TRUE(
      ParseDaemonFlags({"--config=a", "--insecure-allow-any-caller"})->insecure_allow_any_caller);
  EXPECT_EQ(ParseDaemonFlags({"--config=a", "--insecure-allow-any-caller=yes"}).status().message(),
            "--insecure-allow-any-caller: takes no value");
}

TEST(DaemonFlagsTest, HelpAndVersionNeedNoConfig) {
  EXPECT_TRUE(ParseDaemonFlags({"--help"})->help);
  EXPECT_TRUE(ParseDaemonFlags({"-h"})->help);
  EXPECT_TRUE(ParseDaemonFlags({"--version"})->version);
}

TEST(DaemonFlagsTest, BadValuesNameTheFlag) {
  EXPECT_EQ(ParseDaemonFlags({"--config", "a", "--log-level", "loud"}).status().message(),
            "--log-level: unknown log level \"loud\"; expected debug, info, warning or error");
  EXPECT_EQ(ParseDaemonFlags({"--config", "a", "--log-format=xml"}).status().message(),
            "--log-format: unknown log format \"xml\"; expected text or json");
  EXPECT_EQ(ParseDaemonFlags({"--config", "a", "--shutdown-grace", "soon"}).status().message(),
            "--shutdown-grace: expected a duration from 0s to 10m such as \"10s\", got \"soon\"");
  EXPECT_EQ(ParseDaemonFlags({"--config"}).status().message(), "--config: a value is required");
  EXPECT_EQ(ParseDaemonFlags({"--config", "a", "--verbose"}).status().message(),
            "unknown flag \"--verbose\"");
  EXPECT_EQ(ParseDaemonFlags({"--config", "a", "--check-config=yes"}).status().message(),
            "--check-config: takes no value");
}

}  // namespace
}  // namespace agentauth
