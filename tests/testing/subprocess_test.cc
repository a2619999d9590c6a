#include "tests/testing/subprocess.h"

#include <signal.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace agentauth::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::Duration kGenerous = absl::Seconds(30);

absl::StatusOr<ProcessResult> RunShell(const std::string& script,
                                       std::vector<std::pair<std::string, std::string>> env = {},
                                       absl::Duration timeout = kGenerous) {
  return RunProcess({"/bin/sh", "-c", script}, env, timeout);
}

TEST(RunProcessTest, ExitCodeAndBothStreamsAreCapturedSeparately) {
  absl::StatusOr<ProcessResult> result = RunShell("printf out; printf err >&2; exit 7");

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 7);
  EXPECT_EQ(result->term_signal, 0);
  EXPECT_EQ(result->stdout_text, "out");
  EXPECT_EQ(result->stderr_text, "err");
}

TEST(RunProcessTest, ExtraEnvironmentIsAddedAndReplacesInheritedAndEarlierVariables) {
  absl::StatusOr<ProcessResult> result = RunShell(
      "printf '%s|%s|%s' \"$HOME\" \"$SUBPROCESS_TEST_NEW\" \"${PATH:+inherited}\"",
      {{"HOME", "/replaced"}, {"SUBPROCESS_TEST_NEW", "first"}, {"SUBPROCESS_TEST_NEW", "added"}});

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stdout_text, "/replaced|added|inherited");
}

TEST(RunProcessTest, ProgramIsFoundInPath) {
  absl::StatusOr<ProcessResult> result = RunProcess({"true"}, {}, kGenerous);

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 0);
}

TEST(RunProcessTest, StandardInputIsEmpty) {
  absl::StatusOr<ProcessResult> result = RunShell("cat; echo eof");

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stdout_text, "eof\n");
}

TEST(RunProcessTest, OutputLargerThanAPipeBufferIsCapturedWhole) {
  absl::StatusOr<ProcessResult> result =
      RunShell("head -c 1000000 /dev/zero; head -c 300000 /dev/zero >&2");

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stdout_text.size(), 1000000u);
  EXPECT_EQ(result->stderr_text.size(), 300000u);
}

TEST(RunProcessTest, ProcessEndedBySignalReportsTheSignal) {
  absl::StatusOr<ProcessResult> result = RunShell("kill -TERM $$");

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, -1);
  EXPECT_EQ(result->term_signal, SIGTERM);
}

TEST(RunProcessTest, SignalsIgnoredByTheTestAreDefaultInTheChild) {
  struct sigaction previous;
  struct sigaction ignore = {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGPIPE, &ignore, &previous), 0);

  absl::StatusOr<ProcessResult> result =
      RunProcess({"grep", "SigIgn", "/proc/self/status"}, {}, kGenerous);

  sigaction(SIGPIPE, &previous, nullptr);
  ASSERT_TRUE(result.ok()) << result.status();
  // A hex mask of ignored signals, bit n-1 for signal n. (glibc's posix_spawn leaves its own
  // internal signals 32 and 33 ignored; they are reinstalled by the program's own glibc.)
  uint64_t ignored = 0;
  ASSERT_TRUE(absl::SimpleHexAtoi(
      absl::StripAsciiWhitespace(absl::StripPrefix(result->stdout_text, "SigIgn:")), &ignored))
      << result->stdout_text;
  EXPECT_EQ(ignored & (uint64_t{1} << (SIGPIPE - 1)), 0u) << result->stdout_text;
}

TEST(RunProcessTest, ProcessStillRunningAtTheTimeoutIsKilledAndReported) {
  const absl::Time start = absl::Now();

  absl::StatusOr<ProcessResult> result =
      RunShell("echo started >&2; exec sleep 60", {}, absl::Milliseconds(300));

  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(result.status().message()),
              StartsWith("/bin/sh did not exit within 300ms and was killed"));
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("started"));
}

TEST(RunProcessTest, ProcessWritingWithoutPauseIsStillKilledAtTheTimeout) {
  const absl::Time start = absl::Now();

  absl::StatusOr<ProcessResult> result = RunProcess({"yes"}, {}, absl::Milliseconds(300));

  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(RunProcessTest, OutputBeyondTheCaptureLimitIsDropped) {
  absl::StatusOr<ProcessResult> result =
      RunShell(absl::StrCat("head -c ", kMaxCapturedBytes + 100000, " /dev/zero; printf done >&2"));

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stdout_text.size(), kMaxCapturedBytes);
  EXPECT_EQ(result->stderr_text, "done");
}

TEST(RunProcessTest, GrandchildKeepingThePipesOpenDoesNotHoldTheCall) {
  const absl::Time start = absl::Now();

  absl::StatusOr<ProcessResult> result = RunShell("sleep 5 & echo done");

  EXPECT_LT(absl::Now() - start, absl::Seconds(4));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 0);
  EXPECT_EQ(result->stdout_text, "done\n");
}

TEST(RunProcessTest, MissingProgramIsNotFound) {
  absl::StatusOr<ProcessResult> result = RunProcess({"/nonexistent/program"}, {}, kGenerous);

  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("starting /nonexistent/program"));
}

TEST(RunProcessTest, EmptyArgvIsInvalid) {
  EXPECT_EQ(RunProcess({}, {}, kGenerous).status(),
            absl::InvalidArgumentError("RunProcess: empty argv"));
}

}  // namespace
}  // namespace agentauth::testing
