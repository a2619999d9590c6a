#include "client/cli/commands.h"

#include <algorithm>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/cli/status_table.h"
#include "google/protobuf/util/json_util.h"

namespace agentauth::cli {
namespace {

int Report(std::ostream& err, absl::string_view what, const absl::Status& status, ExitCode code) {
  err << "agentauth: " << what << ": " << absl::StatusCodeToString(status.code()) << ": "
      << status.message() << "\n";
  return code;
}

std::string Connecting(const CliArguments& args) {
  return absl::StrCat("connecting to agentauth at ", args.target);
}

int ReportCallFailure(const Client& client, const CliArguments& args, absl::string_view what,
                      const absl::Status& status, std::ostream& err) {
  // gRPC says UNAVAILABLE both when it lost (or never had) the connection and when the daemon
  // relays a provider outage; only the channel's state tells the two apart.
  if (status.code() == absl::StatusCode::kUnavailable && !client.IsConnected()) {
    return Report(err, Connecting(args), status, kExitUnreachable);
  }
  return Report(err, what, status, kExitRefused);
}

// The token ends up inside a header line and a shell substitution, where a space or a control
// character would split or smuggle content; RFC 6750 tokens are visible ASCII anyway.
absl::Status CheckUsable(const std::string& token) {
  if (token.empty()) return absl::InternalError("the daemon answered without a token");
  const bool visible_ascii =
      std::all_of(token.begin(), token.end(), [](char c) { return c > 0x20 && c < 0x7f; });
  if (!visible_ascii) {
    return absl::InternalError("the daemon answered with a token that is not visible ASCII");
  }
  return absl::OkStatus();
}

int Write(absl::string_view text, std::ostream& out, std::ostream& err) {
  out << text;
  out.flush();
  if (!out) {
    err << "agentauth: writing to standard output failed\n";
    return kExitInternalError;
  }
  return kExitSuccess;
}

int RunToken(const Client& client, const CliArguments& args, absl::Time deadline, std::ostream& out,
             std::ostream& err) {
  const TokenOptions options = {.client = args.client,
                                .scopes = args.scopes,
                                .audience = args.audience,
                                .min_validity = args.min_validity,
                                .force_refresh = args.force_refresh,
                                .timeout = deadline - absl::Now()};
  const std::string what = absl::StrCat("token for client \"", args.client, "\"");

  absl::StatusOr<v1::GetAccessTokenResponse> response = client.GetAccessToken(options);
  if (!response.ok()) return ReportCallFailure(client, args, what, response.status(), err);
  if (absl::Status usable = CheckUsable(response->access_token()); !usable.ok()) {
    return Report(err, what, usable, kExitRefused);
  }

  // token_type is always "Bearer" by contract, so the header is built here rather than taken
  // from `authorization`, which an older daemon may leave empty.
  const std::string& token = response->access_token();
  return Write(
      args.header ? absl::StrCat("Authorization: Bearer ", token, "\n") : absl::StrCat(token, "\n"),
      out, err);
}

int RunStatus(const Client& client, const CliArguments& args, absl::Time deadline,
              std::ostream& out, std::ostream& err) {
  const std::string what =
      args.client.empty() ? "status" : absl::StrCat("status of client \"", args.client, "\"");

  absl::StatusOr<v1::GetStatusResponse> response =
      client.GetStatus(args.client, deadline - absl::Now());
  if (!response.ok()) return ReportCallFailure(client, args, what, response.status(), err);
  if (!args.json) return Write(FormatStatusTable(*response, absl::Now()), out, err);

  google::protobuf::util::JsonPrintOptions json_options;
  json_options.always_print_primitive_fields = true;
  json_options.preserve_proto_field_names = true;
  std::string json;
  if (const auto converted =
          google::protobuf::util::MessageToJsonString(*response, &json, json_options);
      !converted.ok()) {
    err << "agentauth: " << what << " as JSON: " << converted.ToString() << "\n";
    return kExitInternalError;
  }
  return Write(absl::StrCat(json, "\n"), out, err);
}

// The status goes to stdout whatever it is, so that a script can log it; only SERVING succeeds.
int RunHealth(const Client& client, const CliArguments& args, absl::Time deadline,
              std::ostream& out, std::ostream& err) {
  const std::string what = args.service.empty()
                               ? std::string("health")
                               : absl::StrCat("health of service \"", args.service, "\"");

  absl::StatusOr<ServingStatus> status = client.CheckHealth(args.service, deadline - absl::Now());
  if (!status.ok()) return ReportCallFailure(client, args, what, status.status(), err);
  const std::string name = ServingStatusName(*status);
  if (const int written = Write(absl::StrCat(name, "\n"), out, err); written != kExitSuccess) {
    return written;
  }

  if (*status == ServingStatus::kServing) return kExitSuccess;
  err << "agentauth: " << what << ": " << name << "\n";
  return kExitRefused;
}

}  // namespace

int RunCommand(const Client& client, const CliArguments& args, std::ostream& out,
               std::ostream& err) {
  // One deadline for the whole command, so that --timeout is what a script waits at most.
  const absl::Time deadline = absl::Now() + args.timeout;
  if (absl::Status reachable = client.WaitUntilReachable(args.timeout); !reachable.ok()) {
    return Report(err, Connecting(args), reachable, kExitUnreachable);
  }

  switch (args.command) {
    case Command::kToken:
      return RunToken(client, args, deadline, out, err);
    case Command::kStatus:
      return RunStatus(client, args, deadline, out, err);
    case Command::kHealth:
      return RunHealth(client, args, deadline, out, err);
    case Command::kHelp:
    case Command::kVersion:
      break;
  }
  err << "agentauth: internal error: no command to run\n";
  return kExitInternalError;
}

}  // namespace agentauth::cli
