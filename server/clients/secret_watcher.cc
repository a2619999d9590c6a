#include "server/clients/secret_watcher.h"

#include "server/common/fingerprint.h"

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
    if (client->secret_file.empty()) continue;

    absl::StatusOr<std::string> secret = ReadSecretFile(sources_, client->secret_file);
    if (!secret.ok()) {
      logger_.Warning("secrets", "reread_failed",
                      {{"client", client->name},
                       {"cause", std::string(secret.status().message())},
                       {"action", "keeping the current secret"}});
      continue;
    }
    if (*secret == client->client_secret) continue;

    ClientConfig updated = *client;
    updated.client_secret = *std::move(secret);
    updated.credential_fingerprint = CredentialFingerprint(updated);
    logger_.Info("secrets", "secret_rotated",
                 {{"client", client->name},
                  {"source", client->secret_source},
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
