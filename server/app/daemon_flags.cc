#include "server/app/daemon_flags.h"

#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace agentauth {
namespace {

// Splits "--name=value" and takes a separate value from the next argument otherwise.
class FlagReader {
 public:
  explicit FlagReader(const std::vector<std::string>& args) : args_(args) {}

  bool Next() {
    if (index_ >= args_.size()) return false;
    const std::string& arg = args_[index_++];
    const size_t equals = arg.find('=');
    name_ = arg.substr(0, equals);
    inline_value_.reset();
    if (equals != std::string::npos) inline_value_ = arg.substr(equals + 1);
    return true;
  }

  const std::string& name() const { return name_; }
  bool has_inline_value() const { return inline_value_.has_value(); }

  absl::StatusOr<std::string> Value() {
    if (inline_value_) return *inline_value_;
    if (index_ >= args_.size()) {
      return absl::InvalidArgumentError(absl::StrCat(name_, ": a value is required"));
    }
    return args_[index_++];
  }

 private:
  const std::vector<std::string>& args_;
  size_t index_ = 0;
  std::string name_;
  std::optional<std::string> inline_value_;
};

absl::Status Prefixed(absl::string_view flag, const absl::Status& status) {
  return absl::InvalidArgumentError(absl::StrCat(flag, ": ", status.message()));
}

}  // namespace

absl::StatusOr<DaemonFlags> ParseDaemonFlags(const std::vector<std::string>& args) {
  DaemonFlags flags;
  FlagReader reader(args);
  while (reader.Next()) {
    const std::string name = reader.name();
    if (name == "--help" || name == "-h") {
      flags.help = true;
      return flags;
    }
    if (name == "--version") {
      flags.version = true;
      return flags;
    }
    if (name == "--no-reflection") {
      if (reader.has_inline_value()) {
        return absl::InvalidArgumentError("--no-reflection: takes no value");
      }
      flags.reflection = false;
      continue;
    }
    if (name == "--insecure-allow-any-caller") {
      if (reader.has_inline_value()) {
        return absl::InvalidArgumentError("--insecure-allow-any-caller: takes no value");
      }
      flags.insecure_allow_any_caller = true;
      continue;
    }
    if (name == "--check-config") {
      if (reader.has_inline_value()) {
        return absl::InvalidArgumentError("--check-config: takes no value");
      }
      flags.check_config = true;
      continue;
    }

    absl::StatusOr<std::string> value;
    if (name == "--config" || name == "--log-level" || name == "--log-format" ||
        name == "--shutdown-grace") {
      value = reader.Value();
      if (!value.ok()) return value.status();
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag \"", name, "\""));
    }

    if (name == "--config") {
      flags.config_path = *value;
    } else if (name == "--shutdown-grace") {
      absl::Duration grace;
      if (!absl::ParseDuration(*value, &grace) || grace < absl::ZeroDuration() ||
          grace > absl::Minutes(10)) {
        return absl::InvalidArgumentError(absl::StrCat(
            name, ": expected a duration from 0s to 10m such as \"10s\", got \"", *value, "\""));
      }
      flags.shutdown_grace = grace;
    } else if (name == "--log-level") {
      absl::StatusOr<LogLevel> level = ParseLogLevel(*value);
      if (!level.ok()) return Prefixed(name, level.status());
      flags.log_level = *level;
    } else {
      absl::StatusOr<LogFormat> format = ParseLogFormat(*value);
      if (!format.ok()) return Prefixed(name, format.status());
      flags.log_format = *format;
    }
  }

  if (flags.config_path.empty()) {
    return absl::InvalidArgumentError("--config FILE is required");
  }
  return flags;
}

std::string DaemonUsage() {
  return R"(Usage: agentauthd --config FILE [options]

Serves OAuth 2.0 access tokens of the agent clients in FILE over gRPC.

Options:
  --config FILE                 the JSON config (required); see README.md
  --check-config                validate the config, print a summary and exit
  --log-level LEVEL             debug, info (default), warning or error
  --log-format FORMAT           text (default) or json: one object per line
  --no-reflection               do not serve gRPC server reflection
  --shutdown-grace DURATION     on SIGTERM/SIGINT, time calls in flight get (default 10s)
  --insecure-allow-any-caller   start even when a listener beyond loopback serves a client
                                without allowed_callers (anyone reaching it gets its tokens)
  --help, -h                    print this help and exit
  --version                     print the version and exit

Exit codes: 0 stopped by SIGTERM/SIGINT or --check-config passed; 2 bad flags or config;
3 could not start (address in use, ...).
)";
}

}  // namespace agentauth
