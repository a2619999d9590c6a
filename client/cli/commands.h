// The commands of the `agentauth` tool, run against a Client.

#ifndef AGENTAUTH_CLIENT_CLI_COMMANDS_H_
#define AGENTAUTH_CLIENT_CLI_COMMANDS_H_

#include <ostream>

#include "client/agentauth_client.h"
#include "client/cli/arguments.h"

namespace agentauth::cli {

// The tool's exit status; HelpText() documents the same list for users.
enum ExitCode : int {
  kExitSuccess = 0,
  kExitInternalError = 1,  // E.g. stdout cannot be written.
  kExitUsage = 2,          // The command line is wrong.
  kExitUnreachable = 3,    // No connection to the daemon within the timeout.
  kExitRefused = 4,        // The daemon answered with an error (or an unusable answer), or
                           // health answered a status other than SERVING.
};

// Runs the token, status or health command of `args` against `client` and returns the exit
// status. The result goes to `out`: for token the token (or the header line) and '\n', nothing
// else; for health the serving status ("SERVING") and '\n'.
// A failure goes to `err` as one line, `agentauth: <what failed>: <CODE>: <message>`, and
// never contains a token. args.timeout bounds connecting and the call together.
// REQUIRES: args.command is Command::kToken, Command::kStatus or Command::kHealth.
int RunCommand(const Client& client, const CliArguments& args, std::ostream& out,
               std::ostream& err);

}  // namespace agentauth::cli

#endif  // AGENTAUTH_CLIENT_CLI_COMMANDS_H_
