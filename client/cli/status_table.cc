#include "client/cli/status_table.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"

namespace agentauth::cli {
namespace {

constexpr size_t kColumns = 7;
using Row = std::array<std::string, kColumns>;

constexpr absl::string_view kStatePrefix = "CLIENT_STATE_";

absl::Time FromProto(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) + absl::Nanoseconds(timestamp.nanos());
}

std::string Rfc3339Utc(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", time, absl::UTCTimeZone());
}

std::string StateName(v1::ClientState state) {
  const std::string& name = v1::ClientState_Name(state);
  // A newer daemon may send a state this build does not know; show its number.
  if (name.empty()) return absl::StrCat("?", static_cast<int>(state));
  return absl::StartsWith(name, kStatePrefix) ? name.substr(kStatePrefix.size()) : name;
}

std::string ExpiresIn(const v1::ClientStatus& client, absl::Time now) {
  if (!client.has_expires_at()) return "-";
  const absl::Duration remaining = FromProto(client.expires_at()) - now;
  if (remaining <= absl::ZeroDuration()) return "expired";
  return FormatRemaining(remaining);
}

// One line, at most kMaxErrorWidth bytes, never cut inside a UTF-8 sequence: the error may
// quote a provider's description, which can be multi-line and in any language.
std::string ShortError(const std::string& error) {
  if (error.empty()) return "-";
  std::string line = error;
  std::replace_if(
      line.begin(), line.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; }, ' ');
  if (line.size() <= kMaxErrorWidth) return line;

  size_t cut = kMaxErrorWidth - 3;
  while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
  return absl::StrCat(line.substr(0, cut), "...");
}

Row ToRow(const v1::ClientStatus& client, absl::Time now) {
  return {client.name(),
          StateName(client.state()),
          client.is_authorized() ? "yes" : "no",
          ExpiresIn(client, now),
          client.has_last_refresh() ? Rfc3339Utc(FromProto(client.last_refresh())) : "-",
          absl::StrCat(client.consecutive_failures()),
          ShortError(client.last_error())};
}

void AppendRow(const Row& row, const std::array<size_t, kColumns>& widths, std::string& out) {
  for (size_t column = 0; column < kColumns; ++column) {
    out += row[column];
    if (column + 1 == kColumns) break;
    out.append(widths[column] - row[column].size() + 2, ' ');
  }
  out += '\n';
}

}  // namespace

std::string FormatRemaining(absl::Duration remaining) {
  if (remaining < absl::Seconds(1)) return "<1s";
  int64_t seconds = absl::ToInt64Seconds(remaining);
  const int64_t days = seconds / 86400;
  const int64_t hours = seconds / 3600 % 24;
  const int64_t minutes = seconds / 60 % 60;
  seconds %= 60;
  // Two units are enough to read at a glance once the value is a day or more.
  if (days > 0) return absl::StrCat(days, "d", hours, "h");
  if (hours > 0) return absl::StrCat(hours, "h", minutes, "m", seconds, "s");
  if (minutes > 0) return absl::StrCat(minutes, "m", seconds, "s");
  return absl::StrCat(seconds, "s");
}

std::string FormatStatusTable(const v1::GetStatusResponse& response, absl::Time now) {
  std::string out = absl::StrCat(
      "server version ", response.server_version().empty() ? "-" : response.server_version(),
      ", started ", response.has_start_time() ? Rfc3339Utc(FromProto(response.start_time())) : "-",
      "\n\n");

  std::vector<Row> rows = {
      {"NAME", "STATE", "AUTHORIZED", "EXPIRES IN", "LAST REFRESH", "FAILURES", "LAST ERROR"}};
  for (const v1::ClientStatus& client : response.clients()) rows.push_back(ToRow(client, now));

  std::array<size_t, kColumns> widths{};
  for (const Row& row : rows) {
    for (size_t column = 0; column < kColumns; ++column) {
      widths[column] = std::max(widths[column], row[column].size());
    }
  }
  for (const Row& row : rows) AppendRow(row, widths, out);
  return out;
}

}  // namespace agentauth::cli
