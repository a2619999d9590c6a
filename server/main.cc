// agentauthd: parses flags, loads the config, wires the daemon and runs until SIGTERM/SIGINT.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "server/app/agentauth_server.h"
#include "server/app/daemon_flags.h"
#include "server/app/process_hardening.h"
#include "server/callers/caller_policy.h"
#include "server/common/clock.h"
#include "server/common/logging.h"
#include "server/config/config.h"
#include "server/http/curl_http_client.h"

namespace {

constexpr int kExitConfigError = 2;
constexpr int kExitStartError = 3;

// Signal handlers may only do async-signal-safe work: write the signal number to a pipe that
// main() reads. gRPC's own threads may receive the signal; the handler is process-wide.
int g_signal_pipe[2] = {-1, -1};

void OnSignal(int signal_number) {
  const int saved_errno = errno;
  const char byte = static_cast<char>(signal_number);
  [[maybe_unused]] ssize_t written = write(g_signal_pipe[1], &byte, 1);
  errno = saved_errno;
}

bool InstallSignalHandlers() {
  if (pipe2(g_signal_pipe, O_CLOEXEC) != 0) return false;
  struct sigaction action = {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  // A log reader that goes away must not kill the daemon with SIGPIPE: writes then fail instead.
  signal(SIGPIPE, SIG_IGN);
  return sigaction(SIGTERM, &action, nullptr) == 0 && sigaction(SIGINT, &action, nullptr) == 0 &&
         sigaction(SIGHUP, &action, nullptr) == 0;
}

int WaitForStopSignal() {
  char byte = 0;
  while (read(g_signal_pipe[0], &byte, 1) < 0 && errno == EINTR) {
  }
  return byte;
}

void PrintConfigSummary(const agentauth::Config& config) {
  std::cout << "config OK: listen " << config.listen << ", " << config.clients.size()
            << " client(s)\n";
  for (const agentauth::ListenerConfig& listener : config.listeners) {
    std::cout << "  listener " << listener.address << (listener.tls ? " (tls)" : "") << "\n";
  }
  for (const agentauth::ClientConfig& client : config.clients) {
    std::cout << "  " << client.name << ": client_id " << client.client_id << ", issuer "
              << client.authority << ", scopes [";
    for (size_t i = 0; i < client.scopes.size(); ++i) {
      std::cout << (i > 0 ? " " : "") << client.scopes[i];
    }
    std::cout << "], auth_method " << agentauth::AuthMethodName(client.auth_method);
    // Where each credential comes from, never the credential.
    if (!client.secret_source.empty()) std::cout << ", secret from " << client.secret_source;
    if (!client.private_key_file.empty()) {
      std::cout << ", private key " << client.private_key_file << " ("
                << agentauth::SigningAlgorithmName(client.signing_algorithm) << ")";
    }
    if (!client.tls_client_cert_file.empty()) {
      std::cout << ", client certificate " << client.tls_client_cert_file;
    }
    std::cout << ", callers ";
    if (!client.allowed_callers) {
      std::cout << "any";
    } else {
      for (size_t i = 0; i < client.allowed_callers->size(); ++i) {
        std::cout << (i > 0 ? " " : "") << (*client.allowed_callers)[i].pattern;
      }
    }
    std::cout << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::StatusOr<agentauth::DaemonFlags> flags =
      agentauth::ParseDaemonFlags(std::vector<std::string>(argv + 1, argv + argc));
  if (!flags.ok()) {
    std::cerr << "agentauthd: " << flags.status().message() << " (see --help)\n";
    return kExitConfigError;
  }
  if (flags->help) {
    std::cout << agentauth::DaemonUsage();
    return 0;
  }
  if (flags->version) {
    std::cout << "agentauthd " << AGENTAUTH_VERSION << "\n";
    return 0;
  }

  agentauth::MonotonicClock clock;
  agentauth::Logger logger(clock, flags->log_level, flags->log_format,
                           agentauth::Logger::StderrSink());
  // Before the first secret is read: no core dump or same-user ptrace may reveal it.
  if (absl::Status hardened = agentauth::MakeProcessUndumpable(); !hardened.ok()) {
    logger.Error("server", "start_failed", {{"cause", std::string(hardened.message())}});
    return kExitStartError;
  }

  absl::StatusOr<agentauth::Config> config =
      agentauth::LoadConfigFile(flags->config_path, agentauth::SecretSources::Real());
  if (!config.ok()) {
    logger.Error("config", "invalid", {{"cause", std::string(config.status().message())}});
    return kExitConfigError;
  }
  if (flags->check_config) {
    // The start-up refusal too, so that a config checked here (say, rendered by the Helm chart)
    // does not stop the daemon later.
    if (absl::Status exposure = agentauth::CheckNoClientOpenBeyondLoopback(*config);
        !exposure.ok() && !flags->insecure_allow_any_caller) {
      logger.Error("config", "invalid", {{"cause", std::string(exposure.message())}});
      return kExitConfigError;
    }
    PrintConfigSummary(*config);
    return 0;
  }

  if (!InstallSignalHandlers()) {
    logger.Error("server", "start_failed", {{"cause", "cannot install signal handlers"}});
    return kExitStartError;
  }
  agentauth::CurlHttpClient http;
  agentauth::ThreadScheduler scheduler(clock);
  agentauth::SystemRandom random;
  agentauth::ServerOptions options;
  options.version = AGENTAUTH_VERSION;
  options.enable_reflection = flags->reflection;
  options.insecure_allow_any_caller = flags->insecure_allow_any_caller;
  absl::StatusOr<std::unique_ptr<agentauth::AgentAuthServer>> server =
      agentauth::AgentAuthServer::Start(
          *std::move(config), options,
          {clock, logger, http, scheduler, random, agentauth::SecretSources::Real()});
  if (!server.ok()) {
    logger.Error("server", "start_failed", {{"cause", std::string(server.status().message())}});
    return kExitStartError;
  }

  int signal_number = WaitForStopSignal();
  while (signal_number == SIGHUP) {
    absl::StatusOr<agentauth::Config> reloaded =
        agentauth::LoadConfigFile(flags->config_path, agentauth::SecretSources::Real());
    if (reloaded.ok()) {
      // A refused reload is logged and counted by Reload itself.
      [[maybe_unused]] absl::Status applied = (*server)->Reload(*reloaded);
    } else {
      (*server)->CountFailedReload();
      logger.Error("config", "reload_failed",
                   {{"cause", std::string(reloaded.status().message())},
                    {"action", "kept the previous configuration"}});
    }
    signal_number = WaitForStopSignal();
  }
  logger.Info("server", "stopping", {{"reason", signal_number == SIGINT ? "SIGINT" : "SIGTERM"}});
  scheduler.Shutdown();
  (*server)->Shutdown(flags->shutdown_grace);
  logger.Info("server", "stopped");
  return 0;
}
