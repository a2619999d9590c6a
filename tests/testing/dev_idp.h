// The development identity provider (deploy/dev-idp), started by a test on a free loopback port.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tests/testing/child_process.h"

namespace agentauth::testing {

// The demo clients the provider knows (deploy/dev-idp/server.mjs).
inline constexpr char kBasicClientId[] = "demo-agent";
inline constexpr char kBasicClientSecret[] = "demo-agent-secret";
inline constexpr char kPostClientId[] = "demo-agent-post";
inline constexpr char kPostClientSecret[] = "demo-agent-post-secret";
inline constexpr char kReservedClientId[] = "agent:with+reserved";
inline constexpr char kReservedClientSecret[] = "p+a%s s:w/rd&=?";
// Registered for client_secret_jwt only: the secret itself is refused.
inline constexpr char kJwtClientId[] = "demo-agent-jwt";
inline constexpr char kJwtClientSecret[] = "demo-agent-jwt-secret-of-at-least-32-bytes";

class DevIdp {
 public:
  struct Options {
    int token_lifetime_seconds = 3600;
  };
  // Files the provider is started with (kept apart from Options, whose designated initializers
  // in other tests must stay complete).
  struct Files {
    // A JSON file of clients replacing the demo clients (see --clients in server.mjs).
    std::string clients_file;
    // Serve https with this certificate chain and key (PEM) and enable tls_client_auth with
    // client certificates chaining to `client_ca_file`. Empty: plain http.
    std::string tls_certificate_file;
    std::string tls_key_file;
    std::string client_ca_file;
  };

  // Starts the provider and waits until it listens.
  static absl::StatusOr<std::unique_ptr<DevIdp>> Start(const Options& options,
                                                       const Files& files = {});

  // "http://127.0.0.1:<port>" ("https" with TLS), exactly as the discovery document names it.
  const std::string& issuer() const { return issuer_; }

  // The provider every test of this process shares (3600 s tokens), started on first use and
  // stopped at exit. Tests count requests as differences, so sharing it is safe.
  static const DevIdp& Shared();

  // Token requests the provider has received from `client_id`, as it counts them.
  absl::StatusOr<int> TokenRequests(const std::string& client_id) const;

 private:
  std::unique_ptr<ChildProcess> process_;
  std::string issuer_;
};

}  // namespace agentauth::testing
