#include "server/callers/caller_authenticator.h"

#include <grpc/grpc_security_constants.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/common/fingerprint.h"

namespace agentauth {
namespace {

// "ipv4:127.0.0.1:5678" -> "ipv4:127.0.0.1"; a connection handed over by the Unix listener
// ("fd:7") -> "unix".
std::string PeerHost(const std::string& peer) {
  if (absl::StartsWith(peer, "fd:") || absl::StartsWith(peer, "unix:")) return "unix";
  const size_t colon = peer.rfind(':');
  return colon == std::string::npos || colon < 5 ? peer : peer.substr(0, colon);
}

void AddProperty(const grpc::AuthContext& context, const char* name, absl::string_view prefix,
                 std::vector<std::string>& out) {
  for (const grpc::string_ref& value : context.FindPropertyValues(name)) {
    std::string identity = absl::StrCat(prefix, absl::string_view(value.data(), value.size()));
    if (std::find(out.begin(), out.end(), identity) == out.end())
      out.push_back(std::move(identity));
  }
}

}  // namespace

std::vector<std::string> CertificateIdentities(const grpc::AuthContext& context) {
  std::vector<std::string> identities;
  // A TLS listener without client_ca_file asks for no certificate; with one, gRPC has
  // verified the chain before any call reaches us.
  if (!context.IsPeerAuthenticated()) return identities;
  AddProperty(context, GRPC_PEER_URI_PROPERTY_NAME, "", identities);
  AddProperty(context, GRPC_PEER_DNS_PROPERTY_NAME, "dns:", identities);
  AddProperty(context, GRPC_X509_CN_PROPERTY_NAME, "cn:", identities);
  return identities;
}

CallerAuthenticator::CallerAuthenticator(const UnixPeerRegistry& unix_peers,
                                         ServiceAccountVerifier* verifier)
    : unix_peers_(unix_peers), verifier_(verifier) {}

absl::StatusOr<CallerIdentity> CallerAuthenticator::Authenticate(
    const grpc::ServerContextBase& context) const {
  CallerIdentity caller;
  const std::string peer = context.peer();
  caller.peer_host = PeerHost(peer);

  const auto& metadata = context.client_metadata();
  const auto [first, last] = metadata.equal_range("authorization");
  if (first != last) {
    if (std::next(first) != last) {
      return absl::UnauthenticatedError("more than one authorization header");
    }
    absl::string_view header(first->second.data(), first->second.size());
    if (header.size() < 7 || !absl::EqualsIgnoreCase(header.substr(0, 7), "bearer ")) {
      return absl::UnauthenticatedError(
          "the authorization header is not \"Bearer <service account token>\"");
    }
    const absl::string_view token = absl::StripAsciiWhitespace(header.substr(7));
    caller.token_fingerprint = Fingerprint(token);
    if (verifier_ == nullptr) {
      return absl::UnauthenticatedError(
          "a bearer token was presented, but this agentauthd verifies none "
          "(caller_auth.kubernetes is not configured)");
    }
    absl::StatusOr<std::string> account = verifier_->Verify(token);
    if (!account.ok()) return account.status();
    caller.identities.push_back(*std::move(account));
  }

  if (const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context()) {
    for (std::string& identity : CertificateIdentities(*auth)) {
      caller.identities.push_back(std::move(identity));
    }
  }
  if (const std::optional<UnixPeer> unix_peer = unix_peers_.Find(peer)) {
    caller.identities.push_back(absl::StrCat("uid:", unix_peer->uid));
    caller.identities.push_back(absl::StrCat("gid:", unix_peer->gid));
  }
  return caller;
}

}  // namespace agentauth
