// Starting a real agentauthd process for the integration tests that need the binary itself.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "tests/testing/child_process.h"

namespace agentauth::testing {

// Runs `argv` (agentauthd, or a wrapper such as setpriv in front of it, logging JSON) and
// returns the process with the JSON of its "listening" line, once it is serving.
inline absl::StatusOr<std::pair<std::unique_ptr<ChildProcess>, nlohmann::json>>
StartListeningDaemon(const std::vector<std::string>& argv) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> daemon = ChildProcess::Start(argv);
  if (!daemon.ok()) return daemon.status();

  absl::StatusOr<std::string> line = (*daemon)->WaitForLine(
      ChildProcess::Stream::kStderr,
      [](const std::string& text) { return absl::StrContains(text, "\"listening\""); },
      absl::Seconds(20));
  if (!line.ok()) return line.status();
  return std::make_pair(*std::move(daemon), nlohmann::json::parse(*line));
}

}  // namespace agentauth::testing
