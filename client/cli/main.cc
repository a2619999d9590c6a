// agentauth: the command-line client of the agentauth daemon. `agentauth --help` explains it.
//
// Exit status (also in --help, and as ExitCode in commands.h):
//   0  success
//   1  an unexpected failure, such as standard output that cannot be written
//   2  usage error: the command line is wrong (the problem and a short usage go to stderr)
//   3  the daemon is unreachable: no connection within --timeout
//   4  the daemon answered with an error (NOT_FOUND, INVALID_ARGUMENT, PERMISSION_DENIED,
//      FAILED_PRECONDITION, UNAVAILABLE from the provider, DEADLINE_EXCEEDED, ...), or health
//      answered a status other than SERVING
// Every failure is one line on stderr: `agentauth: <what failed>: <CODE>: <message>`.

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/agentauth_client.h"
#include "client/cli/arguments.h"
#include "client/cli/commands.h"
#include "grpcpp/grpcpp.h"

#ifndef AGENTAUTH_VERSION
#error "AGENTAUTH_VERSION must be defined by the build"
#endif

int main(int argc, char** argv) {
  using agentauth::cli::Command;

  const std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<agentauth::cli::CliArguments> parsed =
      agentauth::cli::ParseArguments(args, std::getenv("AGENTAUTH_TARGET"));
  if (!parsed.ok()) {
    std::cerr << "agentauth: " << parsed.status().message() << "\n" << agentauth::cli::ShortUsage();
    return agentauth::cli::kExitUsage;
  }

  if (parsed->command == Command::kHelp) {
    std::cout << agentauth::cli::HelpText();
    return agentauth::cli::kExitSuccess;
  }
  if (parsed->command == Command::kVersion) {
    std::cout << "agentauth " << AGENTAUTH_VERSION << " (gRPC " << grpc::Version() << ")\n";
    return agentauth::cli::kExitSuccess;
  }

  absl::StatusOr<std::unique_ptr<agentauth::Client>> client =
      agentauth::Client::Connect({.target = parsed->target,
                                  .tls_ca_file = parsed->tls_ca_file,
                                  .tls_cert_file = parsed->tls_cert_file,
                                  .tls_key_file = parsed->tls_key_file,
                                  .token_file = parsed->token_file});
  if (!client.ok()) {
    std::cerr << "agentauth: " << client.status().message() << "\n";
    return agentauth::cli::kExitUsage;
  }
  return agentauth::cli::RunCommand(**client, *parsed, std::cout, std::cerr);
}
