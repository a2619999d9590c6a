// Who is calling: the identities a caller proved on this call, in the syntax of the
// "allowed_callers" patterns, and how they are matched.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace agentauth {

struct CallerIdentity {
  // Every identity the caller proved: "spiffe://..." and other URI SANs, "dns:<name>",
  // "cn:<common name>" (mTLS certificate), "serviceaccount:<namespace>/<name>" (a verified
  // Kubernetes token), "uid:<n>", "gid:<n>" (Unix socket peer). Empty: anonymous.
  std::vector<std::string> identities;
  // The fingerprint of the bearer token the caller presented (never the token); empty if none.
  std::string token_fingerprint;
  // Where the call came from ("ipv4:127.0.0.1", "unix"), without a port: the rate-limit key of
  // an anonymous caller.
  std::string peer_host;

  bool authenticated() const { return !identities.empty(); }
  // For messages and logs: the identities joined with ',' (cut to a readable length), or
  // "anonymous caller from <peer_host>". Identities are not secrets.
  std::string Describe() const;
  // Whose forced refreshes count together: the first identity, or the peer host.
  std::string RateLimitKey() const;
};

// Whether `identity` matches `pattern`, in which `*` matches any run of characters except '/'.
// Everything else is compared exactly (case-sensitive).
bool MatchesCallerPattern(absl::string_view pattern, absl::string_view identity);

}  // namespace agentauth
