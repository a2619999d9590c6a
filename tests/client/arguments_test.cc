#include "client/cli/arguments.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace agentauth::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

absl::StatusOr<CliArguments> Parse(std::vector<std::string> args,
                                   const char* env_target = nullptr) {
  return ParseArguments(std::move(args), env_target);
}

// --- What a valid command line becomes ---

TEST(ArgumentsTest, TokenWithOnlyAClientGetsTheDefaults) {
  absl::StatusOr<CliArguments> parsed = Parse({"token", "--client", "reports"});

  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->command, Command::kToken);
  EXPECT_EQ(parsed->client, "reports");
  EXPECT_EQ(parsed->target, "localhost:50051");
  EXPECT_EQ(parsed->timeout, absl::Seconds(10));
  EXPECT_THAT(parsed->scopes, IsEmpty());
  EXPECT_EQ(parsed->audience, "");
  EXPECT_EQ(parsed->min_validity, std::nullopt);
  EXPECT_FALSE(parsed->force_refresh);
  EXPECT_FALSE(parsed->header);
}

TEST(ArgumentsTest, EveryTokenOptionIsKept) {
  absl::StatusOr<CliArguments> parsed =
      Parse({"token", "--client", "reports", "--scope", "reports.read", "--audience",
             "https://api.example.com", "--min-validity", "5m", "--force-refresh", "--header"});

  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_THAT(parsed->scopes, ElementsAre("reports.read"));
  EXPECT_EQ(parsed->audience, "https://api.example.com");
  EXPECT_EQ(parsed->min_validity, absl::Minutes(5));
  EXPECT_TRUE(parsed->force_refresh);
  EXPECT_TRUE(parsed->header);
}

TEST(ArgumentsTest, TlsAndTokenOptionsAreGlobal) {
  absl::StatusOr<CliArguments> parsed =
      Parse({"--tls-ca", "/tls/ca.crt", "--tls-cert=/tls/me.crt", "status", "--tls-key",
             "/tls/me.key", "--token-file", "/var/run/secrets/tokens/agentauth"});

  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->tls_ca_file, "/tls/ca.crt");
  EXPECT_EQ(parsed->tls_cert_file, "/tls/me.crt");
  EXPECT_EQ(parsed->tls_key_file, "/tls/me.key");
  EXPECT_EQ(parsed->token_file, "/var/run/secrets/tokens/agentauth");
}

TEST(ArgumentsTest, AClientCertificateNeedsItsKeyAndACa) {
  EXPECT_EQ(Parse({"status", "--tls-ca", "ca", "--tls-cert", "me.crt"}).status().message(),
            "--tls-cert and --tls-key go together");
  EXPECT_EQ(Parse({"status", "--tls-cert", "me.crt", "--tls-key", "me.key"}).status().message(),
            "--tls-cert: needs --tls-ca to verify the daemon with");
}

TEST(ArgumentsTest, RepeatedScopeFlagsAreAllKeptInOrder) {
  absl::StatusOr<CliArguments> parsed =
      Parse({"token", "--client", "x", "--scope", "b", "--scope=a", "--scope", "b"});

  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_THAT(parsed->scopes, ElementsAre("b", "a", "b"));
}

TEST(ArgumentsTest, ValuesMayFollowAnEqualsSign) {
  absl::StatusOr<CliArguments> parsed =
      Parse({"--target=daemon:7000", "token", "--client=reports", "--min-validity=90s",
             "--audience=https://api.example.com/?a=b"});

  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->target, "daemon:7000");
  EXPECT_EQ(parsed->client, "reports");
  EXPECT_EQ(parsed->min_validity, absl::Seconds(90));
  EXPECT_EQ(parsed->audience, "https://api.example.com/?a=b");
}

TEST(ArgumentsTest, GlobalOptionsMayStandBeforeTheCommand) {
  absl::StatusOr<CliArguments> parsed =
      Parse({"--target", "daemon:7000", "--timeout", "3s", "status"});

  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->command, Command::kStatus);
  EXPECT_EQ(parsed->target, "daemon:7000");
  EXPECT_EQ(parsed->timeout, absl::Seconds(3));
}

TEST(ArgumentsTest, GlobalOptionsMayStandAfterTheCommand) {
  absl::StatusOr<CliArguments> parsed =
      Parse({"token", "--client", "x", "--timeout", "1h30m", "--target", "daemon:7000"});

  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->timeout, absl::Minutes(90));
  EXPECT_EQ(parsed->target, "daemon:7000");
}

TEST(ArgumentsTest, StatusWithoutOptionsAsksForEveryClientAsATable) {
  absl::StatusOr<CliArguments> parsed = Parse({"status"});

  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->command, Command::kStatus);
  EXPECT_EQ(parsed->client, "");
  EXPECT_FALSE(parsed->json);
}

TEST(ArgumentsTest, StatusTakesAClientAndJson) {
  absl::StatusOr<CliArguments> parsed = Parse({"status", "--client", "reports", "--json"});

  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->client, "reports");
  EXPECT_TRUE(parsed->json);
}

TEST(ArgumentsTest, HealthWithoutOptionsAsksAboutTheWholeServer) {
  absl::StatusOr<CliArguments> parsed = Parse({"health"});

  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->command, Command::kHealth);
  EXPECT_EQ(parsed->service, "");
}

TEST(ArgumentsTest, HealthTakesAServiceAndTheGlobalOptions) {
  absl::StatusOr<CliArguments> parsed =
      Parse({"--token-file", "/t", "health", "--service=agentauth.v1.TokenService", "--timeout",
             "3s", "--target", "unix:/run/a.sock"});

  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->service, "agentauth.v1.TokenService");
  EXPECT_EQ(parsed->timeout, absl::Seconds(3));
  EXPECT_EQ(parsed->target, "unix:/run/a.sock");
  EXPECT_EQ(parsed->token_file, "/t");
}

TEST(ArgumentsTest, ZeroMinValidityIsAccepted) {
  absl::StatusOr<CliArguments> parsed = Parse({"token", "--client", "x", "--min-validity", "0"});

  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->min_validity, absl::ZeroDuration());
}

// --- Where the target comes from ---

TEST(ArgumentsTest, EnvironmentTargetIsUsedWhenNoTargetFlagIsGiven) {
  absl::StatusOr<CliArguments> parsed = Parse({"status"}, "from-env:1234");

  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->target, "from-env:1234");
}

TEST(ArgumentsTest, TargetFlagWinsOverTheEnvironment) {
  absl::StatusOr<CliArguments> parsed =
      Parse({"status", "--target", "from-flag:1"}, "from-env:1234");

  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->target, "from-flag:1");
}

TEST(ArgumentsTest, EmptyEnvironmentTargetCountsAsUnset) {
  absl::StatusOr<CliArguments> parsed = Parse({"status"}, "");

  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->target, "localhost:50051");
}

// --- Help and version ---

TEST(ArgumentsTest, HelpNeedsNoCommand) {
  EXPECT_EQ(Parse({"--help"})->command, Command::kHelp);
  EXPECT_EQ(Parse({"-h"})->command, Command::kHelp);
}

TEST(ArgumentsTest, HelpAfterACommandWinsOverItsMissingClient) {
  absl::StatusOr<CliArguments> parsed = Parse({"token", "--help"});

  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->command, Command::kHelp);
}

TEST(ArgumentsTest, HelpStopsParsingSoLaterMistakesDoNotMatter) {
  absl::StatusOr<CliArguments> parsed = Parse({"-h", "--no-such-option"});

  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->command, Command::kHelp);
}

TEST(ArgumentsTest, VersionNeedsNoCommand) {
  absl::StatusOr<CliArguments> parsed = Parse({"--version"});

  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->command, Command::kVersion);
}

TEST(ArgumentsTest, HelpTextNamesEveryOptionAndExitCode) {
  const std::string help = HelpText();

  for (const char* option :
       {"--client", "--scope", "--audience", "--min-validity", "--force-refresh", "--header",
        "--json", "--service", "--target", "--timeout", "--help", "-h", "--version",
        "AGENTAUTH_TARGET", "health"}) {
    EXPECT_THAT(help, HasSubstr(option));
  }
  for (const char* exit_code : {"  0  ", "  1  ", "  2  ", "  3  ", "  4  "}) {
    EXPECT_THAT(help, HasSubstr(exit_code));
  }
}

// --- Usage errors: each names what is wrong ---

TEST(ArgumentsTest, NoArgumentsIsAMissingCommand) {
  EXPECT_EQ(Parse({}).status(),
            absl::InvalidArgumentError("missing command (token, status or health)"));
}

TEST(ArgumentsTest, OnlyGlobalOptionsIsAMissingCommand) {
  EXPECT_EQ(Parse({"--target", "x:1"}).status(),
            absl::InvalidArgumentError("missing command (token, status or health)"));
}

TEST(ArgumentsTest, UnknownCommandIsRejected) {
  EXPECT_EQ(
      Parse({"tokens"}).status(),
      absl::InvalidArgumentError("unknown command \"tokens\" (expected token, status or health)"));
}

TEST(ArgumentsTest, TokenWithoutClientIsRejected) {
  EXPECT_EQ(Parse({"token", "--scope", "a"}).status(),
            absl::InvalidArgumentError("token: --client is required"));
}

TEST(ArgumentsTest, UnknownOptionIsRejected) {
  EXPECT_EQ(Parse({"token", "--client", "x", "--scopes", "a"}).status(),
            absl::InvalidArgumentError("unknown option \"--scopes\""));
}

TEST(ArgumentsTest, UnknownOptionWithAValueIsNamedWithoutIt) {
  EXPECT_EQ(Parse({"status", "--verbose=2"}).status(),
            absl::InvalidArgumentError("unknown option \"--verbose\""));
}

TEST(ArgumentsTest, CommandOptionBeforeItsCommandIsRejected) {
  EXPECT_EQ(
      Parse({"--client", "x", "token"}).status(),
      absl::InvalidArgumentError("--client: must follow its command (token, status or health)"));
}

TEST(ArgumentsTest, TokenOptionAfterStatusIsRejected) {
  EXPECT_EQ(Parse({"status", "--header"}).status(),
            absl::InvalidArgumentError("--header: not an option of status"));
}

TEST(ArgumentsTest, StatusOptionAfterTokenIsRejected) {
  EXPECT_EQ(Parse({"token", "--client", "x", "--json"}).status(),
            absl::InvalidArgumentError("--json: not an option of token"));
}

TEST(ArgumentsTest, ClientOptionAfterHealthIsRejected) {
  EXPECT_EQ(Parse({"health", "--client", "x"}).status(),
            absl::InvalidArgumentError("--client: not an option of health"));
}

TEST(ArgumentsTest, ServiceOptionBeforeHealthIsRejected) {
  EXPECT_EQ(
      Parse({"--service", "x", "health"}).status(),
      absl::InvalidArgumentError("--service: must follow its command (token, status or health)"));
}

TEST(ArgumentsTest, OptionAtTheEndWithoutItsValueIsRejected) {
  EXPECT_EQ(Parse({"token", "--client"}).status(),
            absl::InvalidArgumentError("--client: missing value"));
}

TEST(ArgumentsTest, OptionFollowedByAnotherOptionIsMissingItsValue) {
  EXPECT_EQ(Parse({"token", "--client", "--header"}).status(),
            absl::InvalidArgumentError("--client: missing value"));
}

TEST(ArgumentsTest, EmptyValueIsRejected) {
  EXPECT_EQ(Parse({"token", "--client="}).status(),
            absl::InvalidArgumentError("--client: empty value"));
  EXPECT_EQ(Parse({"status", "--target", ""}).status(),
            absl::InvalidArgumentError("--target: empty value"));
}

TEST(ArgumentsTest, SwitchGivenAValueIsRejected) {
  EXPECT_EQ(Parse({"token", "--client", "x", "--force-refresh=true"}).status(),
            absl::InvalidArgumentError("--force-refresh: takes no value"));
}

TEST(ArgumentsTest, OptionOtherThanScopeGivenTwiceIsRejected) {
  EXPECT_EQ(Parse({"token", "--client", "a", "--client", "b"}).status(),
            absl::InvalidArgumentError("--client: given more than once"));
  EXPECT_EQ(Parse({"--timeout", "1s", "status", "--timeout=2s"}).status(),
            absl::InvalidArgumentError("--timeout: given more than once"));
}

TEST(ArgumentsTest, WordAfterTheCommandIsRejected) {
  EXPECT_EQ(Parse({"token", "reports", "--client", "x"}).status(),
            absl::InvalidArgumentError("unexpected argument \"reports\""));
}

TEST(ArgumentsTest, SecondCommandIsRejected) {
  EXPECT_EQ(Parse({"status", "token"}).status(),
            absl::InvalidArgumentError("unexpected argument \"token\""));
}

// --- Durations ---

TEST(ArgumentsTest, UnparseableDurationIsRejectedWithFlagAndValue) {
  EXPECT_EQ(Parse({"status", "--timeout", "soon"}).status(),
            absl::InvalidArgumentError(
                "--timeout: not a duration: \"soon\" (examples: 500ms, 10s, 5m, 1h30m)"));
}

TEST(ArgumentsTest, DurationWithoutAUnitIsRejected) {
  EXPECT_EQ(Parse({"token", "--client", "x", "--min-validity", "300"}).status(),
            absl::InvalidArgumentError(
                "--min-validity: not a duration: \"300\" (examples: 500ms, 10s, 5m, 1h30m)"));
}

TEST(ArgumentsTest, NegativeMinValidityIsRejected) {
  EXPECT_EQ(Parse({"token", "--client", "x", "--min-validity", "-5m"}).status(),
            absl::InvalidArgumentError("--min-validity: negative duration: \"-5m\""));
}

TEST(ArgumentsTest, NegativeTimeoutIsRejected) {
  EXPECT_EQ(Parse({"status", "--timeout=-1s"}).status(),
            absl::InvalidArgumentError("--timeout: negative duration: \"-1s\""));
}

TEST(ArgumentsTest, ZeroTimeoutIsRejected) {
  EXPECT_EQ(Parse({"status", "--timeout", "0s"}).status(),
            absl::InvalidArgumentError("--timeout: duration must be greater than zero: \"0s\""));
}

TEST(ArgumentsTest, InfiniteDurationIsRejected) {
  EXPECT_EQ(Parse({"token", "--client", "x", "--min-validity", "inf"}).status(),
            absl::InvalidArgumentError("--min-validity: duration must be finite: \"inf\""));
}

}  // namespace
}  // namespace agentauth::cli
