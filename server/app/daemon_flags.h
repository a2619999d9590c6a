// The command line of agentauthd, parsed into a plain struct. absl flags cannot spell the
// hyphenated names operators expect (--check-config), so this small parser does.
//
//   agentauthd --config FILE [--check-config] [--log-level LEVEL] [--log-format FORMAT]
//              [--no-reflection] [--shutdown-grace 10s] [--insecure-allow-any-caller]
//              | --help | --version
//
// A value may be given as `--flag value` or `--flag=value`.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/common/logging.h"

namespace agentauth {

struct DaemonFlags {
  std::string config_path;
  bool check_config = false;  // Validate, print a summary, exit.
  bool reflection = true;     // --no-reflection turns gRPC server reflection off.
  // --insecure-allow-any-caller: start even though a listener beyond loopback serves a client
  // that has no allowed_callers.
  bool insecure_allow_any_caller = false;
  // On SIGTERM/SIGINT, how long calls in flight may take before they are cancelled.
  absl::Duration shutdown_grace = absl::Seconds(10);
  LogLevel log_level = LogLevel::kInfo;
  LogFormat log_format = LogFormat::kText;
  bool help = false;
  bool version = false;
};

// Parses argv[1] onwards. INVALID_ARGUMENT naming the flag for a usage error. --help and
// --version win over everything, even a missing --config.
absl::StatusOr<DaemonFlags> ParseDaemonFlags(const std::vector<std::string>& args);

// The --help text.
std::string DaemonUsage();

}  // namespace agentauth
