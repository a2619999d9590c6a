#include "server/clients/secret_watcher.h"

#include "server/config/client_credentials_config.h"

namespace agentauth {

SecretWatcher::SecretWatcher(ClientRegistry& registry, SecretSources sources, Scheduler& scheduler,
                             const Clock& clock, Logger& logger, absl::Duration interval,
                             RotationCallback on_rotated)
    : registry_(registry),
      sources_(std::move(sources)),
      scheduler_(scheduler),
      clock_(clock),
      logger_(logger),
      interval_(interval),
      on_rotated_(std::move(on_rotated)) {}

void SecretWatcher::Start() { PlanNext(); }

void SecretWatcher::PlanNext() {
  scheduler_.RunAt(clock_.Now() + interval_, [this] {
    CheckNow();
    PlanNext();
  });
}

int SecretWatcher::CheckNow() {
  int rotated = 0;
  for (const std::shared_ptr<const ClientConfig>& client : registry_.All()) {
    const bool has_files = !client->secret_file.empty() || !client->private_key_file.empty() ||
                           !client->tls_client_cert_file.empty();
    if (!has_files) continue;

    ClientConfig updated = *client;
    if (absl::Status reread = RereadCredentialFiles(sources_, updated); !reread.ok()) {
      logger_.Warning("secrets", "reread_failed",
                      {{"client", client->name},
                       {"cause", std::string(reread.message())},
                       {"action", "keeping the current credentials"}});
      continue;
    }
    if (SameCredentials(updated, *client)) continue;

    logger_.Info("secrets", "secret_rotated",
                 {{"client", client->name},
                  {"source", client->secret_source},
                  {"private_key_file", client->private_key_file},
                  {"tls_client_cert_file", client->tls_client_cert_file},
                  {"old_fingerprint", client->credential_fingerprint},
                  {"new_fingerprint", updated.credential_fingerprint}});
    const ClientConfig old_client = *client;
    registry_.Replace(updated);
    on_rotated_(old_client, updated);
    ++rotated;
  }
  return rotated;
}

}  // namespace agentauth
