// What the scenario files share: early returns on errors (with AGENTAUTH_RETURN_IF_ERROR from
// server/common), and stopping a server cleanly.
#pragma once

#include <signal.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "tests/bench/bench_servers.h"
#include "tests/bench/load_generator.h"

#define BENCH_CONCAT_INNER(a, b) a##b
#define BENCH_CONCAT(a, b) BENCH_CONCAT_INNER(a, b)
// Declares `lhs` from the value of an absl::StatusOr expression, or returns its error.
#define BENCH_ASSIGN_OR_RETURN(lhs, expr) \
  BENCH_ASSIGN_OR_RETURN_IMPL(BENCH_CONCAT(bench_statusor_, __LINE__), lhs, expr)
#define BENCH_ASSIGN_OR_RETURN_IMPL(statusor, lhs, expr) \
  auto statusor = (expr);                                \
  if (!statusor.ok()) return statusor.status();          \
  lhs = *std::move(statusor)

namespace agentauth::bench {

// SIGTERM, and an error unless the server exits 0 within 30 s: a benchmark that ends in a
// crash has not measured what it claims.
inline absl::Status StopServer(ServerProcess& server, const std::string& what) {
  absl::StatusOr<int> exit_code = server.process->Stop(SIGTERM, absl::Seconds(30));
  if (!exit_code.ok()) return exit_code.status();
  if (*exit_code != 0) {
    return absl::InternalError(absl::StrCat(
        what, " exited with ", *exit_code, ": ",
        server.process->Output(testing::ChildProcess::Stream::kStderr).substr(0, 2000)));
  }
  return absl::OkStatus();
}

// An error when any call of the run failed: figures of failed calls measure nothing.
inline absl::Status CheckNoErrors(const LoadResult& result, const std::string& what) {
  if (result.errors == 0 && result.calls > 0) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(what, ": ", result.errors, " of ", result.calls,
                                          " calls failed, the first with ", result.first_error));
}

constexpr double kMiB = 1024.0 * 1024.0;

}  // namespace agentauth::bench
