// The daemon's configuration: the JSON file, parsed and validated once at start-up.
//
// {
//   "listen": "127.0.0.1:50051",
//   "defaults": {"authority": "https://ims.bentley.com", "min_validity": "60s",
//                "http": {"timeout": "10s"}},
//   "clients": [
//     {"name": "reports", "client_id": "reports-agent",
//      "client_secret_file": "/run/secrets/agentauth/reports", "scopes": ["itwin-platform"]}
//   ]
// }
//
// Every key of "defaults" may also be set per client, where it wins. README.md lists the keys.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/common/refresh_policy.h"
#include "server/common/secret_string.h"
#include "server/config/caller_policy_config.h"
#include "server/config/listener_config.h"
#include "server/crypto/jose_signing.h"

namespace agentauth {

// How agentauth proves the client's identity to the token endpoint (RFC 6749 2.3.1, OpenID
// Connect Core 9, RFC 7523, RFC 8705).
enum class AuthMethod {
  kAutomatic,          // Chosen from discovery and the configured credentials (ChooseAuthMethod).
  kClientSecretBasic,  // HTTP Basic with the form-encoded id and secret.
  kClientSecretPost,   // client_id and client_secret in the request body.
  kClientSecretJwt,    // A JWT assertion signed with HS256 under the secret.
  kPrivateKeyJwt,      // A JWT assertion signed with the client's private key.
  kTlsClientAuth,      // Mutual TLS with the client's certificate; client_id in the body.
};
absl::string_view AuthMethodName(AuthMethod method);

struct ProviderHttpOptions {
  // Total time of one provider request: connect, TLS, request and the whole answer.
  absl::Duration timeout = absl::Seconds(10);
  // PEM bundle the provider's certificate must chain to. Empty: the system's CAs.
  std::string ca_file;
  // Largest provider answer accepted, after decompression.
  size_t max_response_bytes = 1 << 20;

  bool operator==(const ProviderHttpOptions&) const = default;
};

struct ClientConfig {
  std::string name;
  std::string client_id;
  // Held only in memory; never logged, never in a status or an error. Empty when the client
  // authenticates with a key or a certificate only.
  SecretString client_secret;
  // Where the secret came from ("file /run/secrets/x" or "environment variable X"), for messages.
  std::string secret_source;
  // The file the secret is read from, re-read when it changes; empty for an environment variable.
  std::string secret_file;
  // private_key_jwt: the PEM key (read from private_key_file, re-read when it changes), the JWS
  // algorithm and the optional `kid` header. Key empty: no key configured.
  SecretString private_key_pem;
  std::string private_key_file;
  SigningAlgorithm signing_algorithm = SigningAlgorithm::kRs256;
  std::string key_id;
  // tls_client_auth: the client certificate (PEM chain) and its key, read from these files and
  // re-read when they change. Empty: no certificate configured.
  std::string tls_client_cert_pem;
  SecretString tls_client_key_pem;
  std::string tls_client_cert_file;
  std::string tls_client_key_file;
  // Identifies id, every credential, method and algorithm together: a rotated secret, key or
  // certificate gets new cache entries, so a token obtained with the old one is never served
  // for the new one.
  std::string credential_fingerprint;
  // Normalized: split on whitespace, without empties and duplicates, sorted.
  std::vector<std::string> scopes;
  // The issuer URL, url_prefix already applied. Compared with the discovery document exactly.
  std::string authority;
  // Configured token endpoint; when set, discovery is skipped.
  std::string token_endpoint;
  AuthMethod auth_method = AuthMethod::kAutomatic;
  // A token with less than this left counts as expired (the iTwin.js one-minute rule).
  absl::Duration min_validity = absl::Seconds(60);
  // Lifetime assumed when the provider does not say (no usable expires_in, expires_on or exp).
  absl::Duration default_token_lifetime = absl::Minutes(5);
  // Allows plain http:// provider URLs on hosts other than loopback.
  bool allow_insecure_http = false;
  // How long a discovery document is used before it is fetched again.
  absl::Duration discovery_ttl = absl::Hours(1);
  ProviderHttpOptions http;
  RefreshPolicy refresh;
  // Who may use this client. Unset: every caller (refused beyond loopback, see README Security).
  std::optional<std::vector<CallerRule>> allowed_callers;

  // Every setting and the secret: a reload keeps the cached tokens of a client only if equal.
  bool operator==(const ClientConfig&) const = default;
};

struct Config {
  // gRPC listen address, "host:port" or "unix:/path": the first of `listeners`.
  std::string listen = "127.0.0.1:50051";
  // Every gRPC listener: "listeners", or the one plain listener of "listen".
  std::vector<ListenerConfig> listeners = {ListenerConfig{.address = "127.0.0.1:50051"}};
  // How callers prove who they are, beyond TLS certificates and Unix peer credentials.
  CallerAuthConfig caller_auth;
  LimitsConfig limits;
  // Fetch every client's token at start-up; readiness waits for them.
  bool prewarm = true;
  // Provider requests that may run at once, across all clients.
  int max_concurrent_fetches = 8;
  // Where /metrics is served ("host:port"); empty turns metrics off.
  std::string metrics_listen = "127.0.0.1:9464";
  // How often secret files are re-read to notice a rotation.
  absl::Duration secret_check_interval = absl::Seconds(10);
  std::vector<ClientConfig> clients;

  // The client named `name`, or nullptr.
  const ClientConfig* FindClient(absl::string_view name) const;
};

// The permission bits of a file and whether its group is one this process belongs to (a
// Kubernetes Secret volume with fsGroup and defaultMode 0440 gives the pod's group read access).
struct FileAccess {
  unsigned int mode = 0;  // st_mode & 07777.
  bool group_is_own = false;
};

// Where secrets come from, as a seam: main passes the real file system and environment.
struct SecretSources {
  // The whole content of a file, or an error naming why it cannot be read.
  std::function<absl::StatusOr<std::string>(const std::string& path)> read_file;
  // The value of an environment variable, or nullopt when it is not set.
  std::function<std::optional<std::string>(const std::string& name)> get_env;
  // Who may read a file (after following symlinks), for the permission checks of secret and key
  // files. Unset: the sources have no permissions to check (in-memory sources of tests).
  std::function<absl::StatusOr<FileAccess>(const std::string& path)> file_access;

  static SecretSources Real();
};

// Parses and validates a config document. INVALID_ARGUMENT on the first problem, with the JSON
// path of the bad value first: `clients[2].scopes[0]: client "x" may not ask for scope
// "openid" ...`. Unknown keys are errors.
absl::StatusOr<Config> ParseConfig(absl::string_view json_text, const SecretSources& secrets);

// Reads the file at `path` and parses it as ParseConfig does; the message names the file.
absl::StatusOr<Config> LoadConfigFile(const std::string& path, const SecretSources& secrets);

// The secret in file `path`: its content without trailing newlines. INVALID_ARGUMENT when it
// cannot be read, is empty, or every user may read it (then the message names the mode); the
// message names the file, never its content.
absl::StatusOr<std::string> ReadSecretFile(const SecretSources& sources, const std::string& path);

// Identifies client_id, every credential, authentication method, algorithm and key id together
// (a one-way fingerprint).
std::string CredentialFingerprint(const ClientConfig& client);

// Every scope in `scopes`, each entry split on whitespace, without empties or duplicates, sorted.
std::vector<std::string> NormalizeScopes(const std::vector<std::string>& scopes);

}  // namespace agentauth
