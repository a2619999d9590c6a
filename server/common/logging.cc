#include "server/common/logging.h"

#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace agentauth {
namespace {

absl::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "unknown";
}

std::string Timestamp(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
}

bool NeedsQuotes(absl::string_view value) {
  if (value.empty()) return true;
  for (unsigned char c : value) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f) return true;
  }
  return false;
}

// Quotes a value for the text format. Bytes outside printable ASCII are escaped, so neither a
// newline from a provider nor a stray UTF-8 fragment can split or corrupt a line.
std::string QuoteValue(absl::string_view value) {
  if (!NeedsQuotes(value)) return std::string(value);

  std::string quoted = "\"";
  for (unsigned char c : value) {
    if (c == '"' || c == '\\') {
      quoted += '\\';
      quoted += static_cast<char>(c);
    } else if (c == '\n') {
      quoted += "\\n";
    } else if (c == '\r') {
      quoted += "\\r";
    } else if (c == '\t') {
      quoted += "\\t";
    } else if (c < ' ' || c == 0x7f) {
      quoted += absl::StrFormat("\\x%02x", c);
    } else {
      quoted += static_cast<char>(c);
    }
  }
  quoted += '"';
  return quoted;
}

}  // namespace

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "debug") return LogLevel::kDebug;
  if (lower == "info") return LogLevel::kInfo;
  if (lower == "warning" || lower == "warn") return LogLevel::kWarning;
  if (lower == "error") return LogLevel::kError;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown log level \"", text, "\"; expected debug, info, warning or error"));
}

absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view text) {
  if (text == "text") return LogFormat::kText;
  if (text == "json") return LogFormat::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown log format \"", text, "\"; expected text or json"));
}

Logger::Logger(const Clock& clock, LogLevel min_level, LogFormat format, Sink sink)
    : clock_(clock), min_level_(min_level), format_(format), sink_(std::move(sink)) {}

Logger::Sink Logger::StderrSink() {
  return [](absl::string_view line) {
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
  };
}

void Logger::Log(LogLevel level, absl::string_view component, absl::string_view event,
                 std::initializer_list<LogField> fields) {
  if (!Enabled(level)) return;

  std::string line = format_ == LogFormat::kJson ? FormatJson(level, component, event, fields)
                                                 : FormatText(level, component, event, fields);
  line += '\n';

  std::lock_guard<std::mutex> lock(sink_mutex_);
  sink_(line);
}

std::string Logger::FormatText(LogLevel level, absl::string_view component, absl::string_view event,
                               std::initializer_list<LogField> fields) const {
  std::string line =
      absl::StrCat(Timestamp(clock_.Now()), " ", absl::AsciiStrToUpper(LevelName(level)), " ",
                   component, " ", event);
  for (const LogField& field : fields) {
    absl::StrAppend(&line, " ", field.key, "=", QuoteValue(field.value));
  }
  return line;
}

std::string Logger::FormatJson(LogLevel level, absl::string_view component, absl::string_view event,
                               std::initializer_list<LogField> fields) const {
  nlohmann::ordered_json object;
  object["ts"] = Timestamp(clock_.Now());
  object["level"] = LevelName(level);
  object["component"] = component;
  object["event"] = event;
  for (const LogField& field : fields) object[std::string(field.key)] = field.value;

  // Replacing invalid UTF-8 keeps a provider's stray byte from making the line unparseable.
  return object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace agentauth
