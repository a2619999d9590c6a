// Noticing rotated client secrets: Kubernetes updates a mounted Secret by swapping a symlink,
// so the file's content is re-read on a schedule rather than watched by inode.
#pragma once

#include <functional>
#include <string>

#include "absl/time/time.h"
#include "server/clients/client_registry.h"
#include "server/common/clock.h"
#include "server/common/logging.h"
#include "server/common/scheduler.h"
#include "server/config/config.h"

namespace agentauth {

// Every `interval`, re-reads the credential files of each client that has any: the secret file,
// the private key file, the client certificate and its key. When a content changed, replaces
// the client in the registry (new credentials, new credential fingerprint) and calls
// `on_rotated(old, new)`. A file that cannot be read, is empty, has loose permissions or holds
// no usable key (or a certificate that does not match its key, as between the two writes of a
// rotation) is logged and the old credentials kept: a half-written update must not take a
// client down.
//
// Thread-safe. Borrows everything; Stop() (or destroying the scheduler) before the borrowed
// objects go away.
class SecretWatcher {
 public:
  using RotationCallback =
      std::function<void(const ClientConfig& old_client, const ClientConfig& new_client)>;

  SecretWatcher(ClientRegistry& registry, SecretSources sources, Scheduler& scheduler,
                const Clock& clock, Logger& logger, absl::Duration interval,
                RotationCallback on_rotated);

  // Plans the first check.
  void Start();

  // Checks every client now. Returns how many secrets changed.
  int CheckNow();

 private:
  void PlanNext();

  ClientRegistry& registry_;
  const SecretSources sources_;
  Scheduler& scheduler_;
  const Clock& clock_;
  Logger& logger_;
  const absl::Duration interval_;
  const RotationCallback on_rotated_;
};

}  // namespace agentauth
