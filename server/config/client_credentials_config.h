// The provider credentials of a client beside its secret: the private key of private_key_jwt and
// the certificate of tls_client_auth, read from files with permission checks, and the rules
// that tie them to auth_method. config.cc calls in here; the secret watcher re-reads with it.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json_fwd.hpp"
#include "server/config/config.h"

namespace agentauth {

// The credential keys, allowed in a client and in "defaults" (the client's value wins).
#define AGENTAUTH_CREDENTIAL_KEYS \
  "private_key_file", "signing_algorithm", "key_id", "tls_client_cert_file", "tls_client_key_file"

// What a file holds, for its permission check.
enum class SecretFileKind {
  // A client secret: refused when every user may read or write it.
  kClientSecret,
  // A private key: refused when every user has any access, when its group may write it, and
  // when its group may read it unless this process belongs to that group (the Kubernetes fsGroup
  // case).
  kPrivateKey,
};

// OK when the file's permissions fit `kind`; else INVALID_ARGUMENT naming the file, its mode
// and the chmod that fixes it. OK without looking when `sources` cannot tell permissions.
absl::Status CheckSecretFilePermissions(const SecretSources& sources, const std::string& path,
                                        SecretFileKind kind);

// Reads a PEM private key file: permission check, then it must parse as an RSA (2048 bits or
// more) or EC P-256 key. INVALID_ARGUMENT naming the file, never its content.
absl::StatusOr<std::string> ReadPrivateKeyFile(const SecretSources& sources,
                                               const std::string& path);

// Reads private_key_file, signing_algorithm, key_id, tls_client_cert_file and
// tls_client_key_file of the client at `path` (or of `defaults`, which may be null), loads the
// files, and checks that the credentials fit `out.auth_method`, which must be set already, as
// must `out.client_secret`. Sets `out.credential_fingerprint`.
//
// INVALID_ARGUMENT with the JSON path of the bad value: a file that cannot be read, has loose
// permissions or holds no usable key or certificate; an algorithm that does not fit the key; a
// method without its credential; a client without any credential.
absl::Status ReadClientCredentials(const nlohmann::json& client, absl::string_view path,
                                   const nlohmann::json* defaults, const SecretSources& sources,
                                   ClientConfig& out);

// Reads every credential file of `client` again (secret, private key, certificate and its key)
// into `client`, with the checks of the first reading, and recomputes its fingerprint. On error
// `client` is unchanged and the message names the file.
absl::Status RereadCredentialFiles(const SecretSources& sources, ClientConfig& client);

// Whether the two hold the same secret, key and certificate.
bool SameCredentials(const ClientConfig& a, const ClientConfig& b);

}  // namespace agentauth
