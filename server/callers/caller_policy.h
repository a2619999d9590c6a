// Which caller may use which client: a client's "allowed_callers" applied to a CallerIdentity.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "server/callers/caller_identity.h"
#include "server/config/config.h"

namespace agentauth {

// Whether `caller` may use `client` at all: the client is open to every caller, or one of its
// rules matches one of the caller's identities. Scope and audience limits are not considered.
bool CallerMayUseClient(const ClientConfig& client, const CallerIdentity& caller);

// Decides a token request of `caller` for `client` with the request's effective (normalized)
// `scopes` and `audience` (empty: none). OK when allowed;
//   UNAUTHENTICATED    the client names its callers and this one proved no identity;
//   PERMISSION_DENIED  no rule matches ("caller X may not use client Y"), or every matching
//                      rule limits scopes or audiences and the request goes beyond them.
absl::Status AuthorizeTokenRequest(const ClientConfig& client, const CallerIdentity& caller,
                                   const std::vector<std::string>& scopes,
                                   const std::string& audience);

// The safe default: FAILED_PRECONDITION, naming the listener and the clients, when a listener
// is reachable beyond this machine (TCP other than loopback) while a client has no
// "allowed_callers" and so would hand its tokens to anyone who connects.
absl::Status CheckNoClientOpenBeyondLoopback(const Config& config);

}  // namespace agentauth
