// Finding out who is calling: every identity a call proves, from the transport (mTLS client
// certificate, Unix socket peer credentials) and from its metadata (a Kubernetes service
// account token in `authorization: Bearer <jwt>`).
#pragma once

#include <grpcpp/server_context.h>

#include "absl/status/statusor.h"
#include "server/callers/caller_identity.h"
#include "server/callers/service_account_verifier.h"
#include "server/callers/unix_listener.h"

namespace agentauth {

// Thread-safe. Borrows its collaborators, which must outlive it.
class CallerAuthenticator {
 public:
  // `verifier` is null when no caller_auth.kubernetes is configured.
  CallerAuthenticator(const UnixPeerRegistry& unix_peers, ServiceAccountVerifier* verifier);

  // The caller of `context`; anonymous when it proved nothing. UNAUTHENTICATED when it
  // presented a bearer token that is invalid (the message says why, never quoting the token),
  // or one while no token verification is configured; UNAVAILABLE when the keys to verify it
  // cannot be obtained.
  absl::StatusOr<CallerIdentity> Authenticate(const grpc::ServerContextBase& context) const;

 private:
  const UnixPeerRegistry& unix_peers_;
  ServiceAccountVerifier* verifier_;
};

// The identities of a verified TLS client certificate in `context`: URI SANs as they are,
// "dns:<SAN>", "cn:<subject CN>". Empty for a connection without one.
std::vector<std::string> CertificateIdentities(const grpc::AuthContext& context);

}  // namespace agentauth
