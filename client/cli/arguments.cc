#include "client/cli/arguments.h"

#include <array>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace agentauth::cli {
namespace {

// Which command an option belongs to. Global options work with every command.
enum class Scope { kGlobal, kToken, kStatus, kTokenOrStatus, kHealth };

struct OptionSpec {
  absl::string_view name;
  bool takes_value;
  Scope scope;
};

constexpr std::array<OptionSpec, 17> kOptions = {{
    {"--help", false, Scope::kGlobal},
    {"-h", false, Scope::kGlobal},
    {"--version", false, Scope::kGlobal},
    {"--target", true, Scope::kGlobal},
    {"--timeout", true, Scope::kGlobal},
    {"--tls-ca", true, Scope::kGlobal},
    {"--tls-cert", true, Scope::kGlobal},
    {"--tls-key", true, Scope::kGlobal},
    {"--token-file", true, Scope::kGlobal},
    {"--client", true, Scope::kTokenOrStatus},
    {"--scope", true, Scope::kToken},
    {"--audience", true, Scope::kToken},
    {"--min-validity", true, Scope::kToken},
    {"--force-refresh", false, Scope::kToken},
    {"--header", false, Scope::kToken},
    {"--json", false, Scope::kStatus},
    {"--service", true, Scope::kHealth},
}};

const OptionSpec* FindOption(absl::string_view name) {
  for (const OptionSpec& spec : kOptions) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

bool Allows(Scope scope, Command command) {
  switch (scope) {
    case Scope::kGlobal:
      return true;
    case Scope::kToken:
      return command == Command::kToken;
    case Scope::kStatus:
      return command == Command::kStatus;
    case Scope::kTokenOrStatus:
      return command == Command::kToken || command == Command::kStatus;
    case Scope::kHealth:
      return command == Command::kHealth;
  }
  return false;
}

absl::string_view CommandName(Command command) {
  switch (command) {
    case Command::kToken:
      return "token";
    case Command::kStatus:
      return "status";
    case Command::kHealth:
      return "health";
    case Command::kHelp:
      return "--help";
    case Command::kVersion:
      return "--version";
  }
  return "?";
}

absl::Status UsageError(absl::string_view message) { return absl::InvalidArgumentError(message); }

absl::StatusOr<Command> ParseCommand(absl::string_view word) {
  if (word == "token") return Command::kToken;
  if (word == "status") return Command::kStatus;
  if (word == "health") return Command::kHealth;
  return UsageError(
      absl::StrCat("unknown command \"", word, "\" (expected token, status or health)"));
}

// `zero_allowed` separates --min-validity, where zero means "any unexpired token", from
// --timeout, where a zero deadline could never be met.
absl::StatusOr<absl::Duration> ParseDurationValue(absl::string_view option, absl::string_view value,
                                                  bool zero_allowed) {
  absl::Duration duration;
  if (!absl::ParseDuration(value, &duration)) {
    return UsageError(absl::StrCat(option, ": not a duration: \"", value,
                                   "\" (examples: 500ms, 10s, 5m, 1h30m)"));
  }
  if (duration < absl::ZeroDuration()) {
    return UsageError(absl::StrCat(option, ": negative duration: \"", value, "\""));
  }
  if (duration == absl::InfiniteDuration()) {
    return UsageError(absl::StrCat(option, ": duration must be finite: \"", value, "\""));
  }
  if (!zero_allowed && duration == absl::ZeroDuration()) {
    return UsageError(
        absl::StrCat(option, ": duration must be greater than zero: \"", value, "\""));
  }
  return duration;
}

// Stores the value of an option that takes one, after checking it.
absl::Status ApplyValue(absl::string_view option, std::string value, CliArguments& result) {
  if (value.empty()) return UsageError(absl::StrCat(option, ": empty value"));

  if (option == "--target") {
    result.target = std::move(value);
  } else if (option == "--timeout") {
    absl::StatusOr<absl::Duration> timeout = ParseDurationValue(option, value, false);
    if (!timeout.ok()) return timeout.status();
    result.timeout = *timeout;
  } else if (option == "--tls-ca") {
    result.tls_ca_file = std::move(value);
  } else if (option == "--tls-cert") {
    result.tls_cert_file = std::move(value);
  } else if (option == "--tls-key") {
    result.tls_key_file = std::move(value);
  } else if (option == "--token-file") {
    result.token_file = std::move(value);
  } else if (option == "--client") {
    result.client = std::move(value);
  } else if (option == "--scope") {
    result.scopes.push_back(std::move(value));
  } else if (option == "--service") {
    result.service = std::move(value);
  } else if (option == "--audience") {
    result.audience = std::move(value);
  } else if (option == "--min-validity") {
    absl::StatusOr<absl::Duration> min_validity = ParseDurationValue(option, value, true);
    if (!min_validity.ok()) return min_validity.status();
    result.min_validity = *min_validity;
  }
  return absl::OkStatus();
}

void ApplyFlag(absl::string_view option, CliArguments& result) {
  if (option == "--force-refresh") result.force_refresh = true;
  if (option == "--header") result.header = true;
  if (option == "--json") result.json = true;
}

bool LooksLikeOption(absl::string_view arg) { return arg.size() > 1 && arg[0] == '-'; }

}  // namespace

absl::StatusOr<CliArguments> ParseArguments(std::vector<std::string> args, const char* env_target) {
  CliArguments result;
  std::optional<Command> command;
  std::set<absl::string_view> seen;

  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (!LooksLikeOption(arg)) {
      if (command.has_value()) {
        return UsageError(absl::StrCat("unexpected argument \"", arg, "\""));
      }
      absl::StatusOr<Command> parsed = ParseCommand(arg);
      if (!parsed.ok()) return parsed.status();
      command = *parsed;
      continue;
    }

    std::optional<std::string> inline_value;
    if (const size_t equals = arg.find('='); equals != absl::string_view::npos) {
      inline_value = std::string(arg.substr(equals + 1));
      arg = arg.substr(0, equals);
    }
    const OptionSpec* spec = FindOption(arg);
    if (spec == nullptr) return UsageError(absl::StrCat("unknown option \"", arg, "\""));

    if (spec->name == "--help" || spec->name == "-h" || spec->name == "--version") {
      if (inline_value.has_value()) return UsageError(absl::StrCat(arg, ": takes no value"));
      result.command = spec->name == "--version" ? Command::kVersion : Command::kHelp;
      return result;
    }
    if (!command.has_value() && spec->scope != Scope::kGlobal) {
      return UsageError(absl::StrCat(arg, ": must follow its command (token, status or health)"));
    }
    if (command.has_value() && !Allows(spec->scope, *command)) {
      return UsageError(absl::StrCat(arg, ": not an option of ", CommandName(*command)));
    }
    if (spec->name != "--scope" && !seen.insert(spec->name).second) {
      return UsageError(absl::StrCat(arg, ": given more than once"));
    }

    if (!spec->takes_value) {
      if (inline_value.has_value()) return UsageError(absl::StrCat(arg, ": takes no value"));
      ApplyFlag(spec->name, result);
      continue;
    }
    // A following "--word" is taken for a forgotten value rather than swallowed, so that
    // `--client --header` is reported instead of asking for a client named "--header".
    if (!inline_value.has_value()) {
      if (i + 1 == args.size() || absl::StartsWith(args[i + 1], "--")) {
        return UsageError(absl::StrCat(arg, ": missing value"));
      }
      inline_value = args[++i];
    }
    if (absl::Status applied = ApplyValue(spec->name, std::move(*inline_value), result);
        !applied.ok()) {
      return applied;
    }
  }

  if (!command.has_value()) return UsageError("missing command (token, status or health)");
  result.command = *command;
  if (result.command == Command::kToken && result.client.empty()) {
    return UsageError("token: --client is required");
  }
  if (result.tls_cert_file.empty() != result.tls_key_file.empty()) {
    return UsageError("--tls-cert and --tls-key go together");
  }
  if (!result.tls_cert_file.empty() && result.tls_ca_file.empty()) {
    return UsageError("--tls-cert: needs --tls-ca to verify the daemon with");
  }
  if (result.target.empty()) {
    result.target = env_target != nullptr && *env_target != '\0' ? std::string(env_target)
                                                                 : std::string(kDefaultTarget);
  }
  return result;
}

std::string HelpText() {
  return R"help(agentauth: access tokens from an agentauth daemon, for scripts and shells.

Usage:
  agentauth [GLOBAL OPTIONS] token --client NAME [--scope SCOPE]... [--audience URI]
                             [--min-validity DURATION] [--force-refresh] [--header]
  agentauth [GLOBAL OPTIONS] status [--client NAME] [--json]
  agentauth [GLOBAL OPTIONS] health [--service NAME]

Commands:
  token    Print an access token of client NAME followed by a newline, and nothing else:
             curl -H "$(agentauth token --client reports --header)" https://api.example.com/
  status   Print the state of every configured client (or of NAME only) as a table, or
           with --json as a GetStatusResponse in protobuf's JSON mapping. Shows no secrets.
  health   Ask the daemon's grpc.health.v1 service and print its answer (SERVING,
           NOT_SERVING, ...); exit 0 only for SERVING. The daemon is SERVING once its
           clients' tokens are prewarmed, NOT_SERVING while it shuts down.

Options of token:
  --client NAME            the client's configured name (not its OAuth client_id); required
  --scope SCOPE            a scope the token must carry; repeat for more (default: the client's)
  --audience URI           the API the token is for (RFC 8707 resource indicator)
  --min-validity DURATION  the token must stay valid this long (default: the client's setting)
  --force-refresh          fetch a new token even if a cached one is still valid
  --header                 print "Authorization: Bearer <token>" instead of the bare token

Options of status:
  --client NAME            only this client
  --json                   JSON instead of a table

Options of health:
  --service NAME           a service name instead of the daemon as a whole ("")

Global options, before or after the command:
  --target HOST:PORT       the daemon, or unix:/path (default: $AGENTAUTH_TARGET, else
                           localhost:50051)
  --timeout DURATION       bounds connecting and the call together (default: 10s)
  --tls-ca FILE            connect with TLS, verifying the daemon against this PEM CA bundle
  --tls-cert FILE          with --tls-key: a client certificate, for a daemon with mutual TLS
  --tls-key FILE           the client certificate's PEM private key
  --token-file FILE        send the token in FILE (a Kubernetes service account token) as
                           "authorization: Bearer"; re-read at every call
  -h, --help               print this help
  --version                print the version

A value may follow its option as `--option VALUE` or `--option=VALUE`.
A DURATION looks like 500ms, 10s, 5m or 1h30m.

Exit status:
  0  success
  1  an unexpected failure, such as standard output that cannot be written
  2  usage error: the command line is wrong
  3  the daemon is unreachable: no connection within the timeout
  4  the daemon answered with an error, printed as one line on stderr, e.g.
       agentauth: token for client "reports": NOT_FOUND: unknown client "reports"
     or, for health, with a status other than SERVING
)help";
}

std::string ShortUsage() {
  return "usage: agentauth [--target HOST:PORT] [--timeout DURATION] token|status|health "
         "[OPTIONS]\n"
         "Run 'agentauth --help' for the options.\n";
}

}  // namespace agentauth::cli
