// Checking a TLS listener's files at start-up, so that a wrong path or a key that does not
// belong to the certificate stops the daemon with a clear message instead of failing every
// handshake later.
#pragma once

#include "absl/status/status.h"
#include "server/config/listener_config.h"

namespace agentauth {

// OK when cert_file holds a PEM certificate, key_file the private key of its public key, and
// client_ca_file (when set) at least one PEM certificate. INVALID_ARGUMENT naming the listener
// and the file otherwise; a key's content is never quoted.
absl::Status CheckListenerTlsFiles(const ListenerConfig& listener);

}  // namespace agentauth
