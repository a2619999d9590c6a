// How `agentauth status` shows a GetStatusResponse to a person.

#ifndef AGENTAUTH_CLIENT_CLI_STATUS_TABLE_H_
#define AGENTAUTH_CLIENT_CLI_STATUS_TABLE_H_

#include <string>

#include "absl/time/time.h"
#include "agentauth/v1/token_service.pb.h"

namespace agentauth::cli {

// Longest LAST ERROR shown, in bytes; longer ones end in "...". The full text is in --json.
inline constexpr size_t kMaxErrorWidth = 60;

// Renders `response` as a header line naming the server's version and start time, a blank
// line, and a table with one row per client, in the response's order:
//
//   NAME  STATE  AUTHORIZED  EXPIRES IN  LAST REFRESH  FAILURES  LAST ERROR
//
// STATE is the ClientState without its CLIENT_STATE_ prefix; EXPIRES IN counts from `now`
// ("59m12s", "expired", or "-" when no token is held); times are RFC 3339 in UTC to the second;
// LAST ERROR is flattened to one line and cut to kMaxErrorWidth. Columns are separated by two
// spaces and no line ends in a space. Every line, the last included, ends in '\n'.
std::string FormatStatusTable(const v1::GetStatusResponse& response, absl::Time now);

// "59m12s", "1h0m5s", "2d3h": a positive duration to the second, for people.
// Durations under a second give "<1s".
std::string FormatRemaining(absl::Duration remaining);

}  // namespace agentauth::cli

#endif  // AGENTAUTH_CLIENT_CLI_STATUS_TABLE_H_
