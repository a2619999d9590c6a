// The command line of the `agentauth` tool, parsed into a plain struct.
//
// Grammar (HelpText() is the user's version of it):
//
//   agentauth [GLOBAL...] token --client NAME [--scope S]... [--audience URI]
//             [--min-validity DURATION] [--force-refresh] [--header] [GLOBAL...]
//   agentauth [GLOBAL...] status [--client NAME] [--json] [GLOBAL...]
//   agentauth [GLOBAL...] health [--service NAME] [GLOBAL...]
//   GLOBAL: --target HOST:PORT | --timeout DURATION | --tls-ca FILE | --tls-cert FILE
//           | --tls-key FILE | --token-file FILE | --help | -h | --version
//
// Global options may stand before or after the command; a command's own options only after
// it. A value may be given as `--flag value` or `--flag=value`. Only --scope may be repeated.
// Durations use absl::ParseDuration's syntax ("500ms", "10s", "5m", "1h30m").

#ifndef AGENTAUTH_CLIENT_CLI_ARGUMENTS_H_
#define AGENTAUTH_CLIENT_CLI_ARGUMENTS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace agentauth::cli {

// Where the tool connects when neither --target nor $AGENTAUTH_TARGET says otherwise.
inline constexpr absl::string_view kDefaultTarget = "localhost:50051";

// What the tool is asked to do.
enum class Command {
  kHelp,     // --help or -h: print HelpText() and succeed.
  kVersion,  // --version: print the version and succeed.
  kToken,    // token: print an access token.
  kStatus,   // status: print the state of the clients.
  kHealth,   // health: ask grpc.health.v1.Health/Check.
};

// A parsed command line. Fields of the other command keep their defaults.
struct CliArguments {
  Command command = Command::kHelp;

  // Global options.
  std::string target;                          // --target, else $AGENTAUTH_TARGET, else default.
  absl::Duration timeout = absl::Seconds(10);  // --timeout: bounds the whole command. Positive.
  std::string tls_ca_file;                     // --tls-ca: connect with TLS. Empty: plain.
  std::string tls_cert_file;                   // --tls-cert and --tls-key: mutual TLS.
  std::string tls_key_file;
  std::string token_file;  // --token-file: sent as a bearer token with every call.

  // token, and status to ask for one client (empty: all of them).
  std::string client;

  // token only.
  std::vector<std::string> scopes;             // Every --scope, in command-line order.
  std::string audience;                        // Empty: none.
  std::optional<absl::Duration> min_validity;  // Finite and not negative when set.
  bool force_refresh = false;
  bool header = false;  // Print "Authorization: Bearer <token>" instead of the bare token.

  // status only.
  bool json = false;

  // health only: the service to ask about; empty means the server as a whole.
  std::string service;
};

// Parses `args`, the command line without the program name (argv[1] onwards). `env_target`
// is the value of $AGENTAUTH_TARGET, or nullptr when it is not set; empty counts as not set.
// Parsing stops at the first --help, -h or --version, which then wins over anything after it.
//
// Returns INVALID_ARGUMENT for a usage error, with a message for the user that names the
// offending option or word, e.g. `--timeout: not a duration: "soon"`. Pure: reads nothing
// but its arguments.
absl::StatusOr<CliArguments> ParseArguments(std::vector<std::string> args, const char* env_target);

// The full --help text: synopsis, options, environment and exit codes.
std::string HelpText();

// Two lines for stderr after a usage error: the synopsis and where to find more.
std::string ShortUsage();

}  // namespace agentauth::cli

#endif  // AGENTAUTH_CLIENT_CLI_ARGUMENTS_H_
