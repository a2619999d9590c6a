// The one logging facade of agentauth: one line per event, as text or as JSON.
//
//   logger.Info("cache", "first_token", {{"client", name}, {"expires_in", "3600s"}});
//
// text: 2026-12-04T16:00:00.123Z INFO cache first_token client=reports expires_in=3600s
// json: {"ts":"2026-12-04T16:00:00.123Z","level":"info","component":"cache",
//        "event":"first_token","client":"reports","expires_in":"3600s"}
//
// Values are escaped so that one event is always one line, whatever a provider sent. Callers
// never pass a secret or a token: at most a fingerprint (see fingerprint.h).
#pragma once

#include <functional>
#include <initializer_list>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/common/clock.h"

namespace agentauth {

enum class LogLevel { kDebug, kInfo, kWarning, kError };
enum class LogFormat { kText, kJson };

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view text);
absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view text);

struct LogField {
  absl::string_view key;
  std::string value;
};

// Thread-safe: lines from concurrent callers never interleave.
class Logger {
 public:
  // Receives each complete line, newline included.
  using Sink = std::function<void(absl::string_view line)>;

  // `clock` must outlive the logger.
  Logger(const Clock& clock, LogLevel min_level, LogFormat format, Sink sink);

  // A logger writing to standard error.
  static Sink StderrSink();

  bool Enabled(LogLevel level) const { return level >= min_level_; }

  void Log(LogLevel level, absl::string_view component, absl::string_view event,
           std::initializer_list<LogField> fields = {});
  void Debug(absl::string_view component, absl::string_view event,
             std::initializer_list<LogField> fields = {}) {
    Log(LogLevel::kDebug, component, event, fields);
  }
  void Info(absl::string_view component, absl::string_view event,
            std::initializer_list<LogField> fields = {}) {
    Log(LogLevel::kInfo, component, event, fields);
  }
  void Warning(absl::string_view component, absl::string_view event,
               std::initializer_list<LogField> fields = {}) {
    Log(LogLevel::kWarning, component, event, fields);
  }
  void Error(absl::string_view component, absl::string_view event,
             std::initializer_list<LogField> fields = {}) {
    Log(LogLevel::kError, component, event, fields);
  }

 private:
  std::string FormatText(LogLevel level, absl::string_view component, absl::string_view event,
                         std::initializer_list<LogField> fields) const;
  std::string FormatJson(LogLevel level, absl::string_view component, absl::string_view event,
                         std::initializer_list<LogField> fields) const;

  const Clock& clock_;
  const LogLevel min_level_;
  const LogFormat format_;
  std::mutex sink_mutex_;
  Sink sink_;
};

}  // namespace agentauth
