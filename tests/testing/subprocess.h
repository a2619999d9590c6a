// Running a program to completion from a test, with its output captured.
//
//   absl::StatusOr<ProcessResult> result =
//       RunProcess({AGENTAUTH_CLI_PATH, "--version"}, {{"AGENTAUTH_TARGET", ""}},
//       absl::Seconds(10));
//   ASSERT_TRUE(result.ok()) << result.status();
//   EXPECT_EQ(result->exit_code, 0);

#ifndef AGENTAUTH_TESTS_TESTING_SUBPROCESS_H_
#define AGENTAUTH_TESTS_TESTING_SUBPROCESS_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace agentauth::testing {

// Each output stream keeps at most this many bytes, its first ones: the rest is read and
// dropped, so that a runaway child cannot exhaust the test's memory.
inline constexpr size_t kMaxCapturedBytes = size_t{16} << 20;

// How a process ended and what it wrote.
struct ProcessResult {
  // The status passed to exit(), or -1 when a signal ended the process.
  int exit_code = -1;
  // The signal that ended the process, or 0 when it exited.
  int term_signal = 0;
  std::string stdout_text;
  std::string stderr_text;
};

// Starts argv[0] (searched in $PATH when it has no '/') with arguments argv[1..], waits for it
// to exit and returns its exit status and everything it wrote to stdout and stderr. Its stdin
// is /dev/null. Its environment is this process's, with each pair of `extra_env` added or
// replacing the variable of that name; a later pair wins over an earlier one of the same name. An
// empty value sets the variable to ""; it does not unset it.
// Signals ignored by this process are reset to their defaults in the child.
//
// The output is collected until the process exits, not until its pipes close: a child of the
// child that keeps them open does not hold the call up, and what it writes later is lost.
//
// Errors: INVALID_ARGUMENT for an empty argv; NOT_FOUND (or another errno mapping) when the
// program cannot be started; DEADLINE_EXCEEDED when it has not exited after `timeout`, in
// which case it is killed with SIGKILL (by pid, not its process group) and reaped, and the
// message ends with the last bytes of its stderr.
//
// Thread-safe: concurrent calls do not leak pipes into each other's children.
absl::StatusOr<ProcessResult> RunProcess(
    const std::vector<std::string>& argv,
    const std::vector<std::pair<std::string, std::string>>& extra_env, absl::Duration timeout);

}  // namespace agentauth::testing

#endif  // AGENTAUTH_TESTS_TESTING_SUBPROCESS_H_
