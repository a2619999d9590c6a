// Where agentauthd accepts callers: the "listeners" array of the config (or the one plain
// listener of the "listen" shorthand).
//
//   "listeners": [
//     {"address": "127.0.0.1:50051"},
//     {"address": "0.0.0.0:50443", "tls": {"cert_file": "/tls/tls.crt", "key_file": "/tls/tls.key",
//                                          "client_ca_file": "/tls/ca.crt"}},
//     {"address": "unix:/run/agentauth/agentauth.sock", "socket_mode": "0660"}
//   ]
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace agentauth {

struct ListenerTlsConfig {
  // PEM server certificate chain and key; re-read when they change (certificate rotation).
  std::string cert_file;
  std::string key_file;
  // PEM bundle of the CAs a caller's certificate must chain to. Set: mutual TLS, every caller
  // must present a valid certificate. Empty: callers are not asked for one.
  std::string client_ca_file;

  bool operator==(const ListenerTlsConfig&) const = default;
};

struct ListenerConfig {
  // "host:port" (port 0 picks one) or "unix:/path".
  std::string address{};
  std::optional<ListenerTlsConfig> tls{};
  // File mode of a Unix socket, applied after bind (e.g. 0660). Unset: 0600.
  std::optional<mode_t> socket_mode{};

  bool IsUnix() const;
  // The socket's path for a Unix listener.
  std::string UnixPath() const;
  // Only this machine's processes can connect: a Unix socket or a loopback TCP address.
  bool IsLocalOnly() const;

  bool operator==(const ListenerConfig&) const = default;
};

// The Unix socket mode when the config sets none: only the daemon's own user.
inline constexpr mode_t kDefaultSocketMode = 0600;

// Checks a listen address: "host:port" with a port 0-65535, or "unix:/absolute/path".
// INVALID_ARGUMENT naming `path` otherwise.
absl::Status CheckListenAddress(const std::string& address, const std::string& path);

// Parses the top-level "listeners" array. `read_file` is used to check that the TLS files can
// be read. INVALID_ARGUMENT with the JSON path of the first problem.
absl::StatusOr<std::vector<ListenerConfig>> ParseListeners(
    const nlohmann::json& listeners,
    const std::function<absl::StatusOr<std::string>(const std::string&)>& read_file);

}  // namespace agentauth
