#include "server/callers/caller_policy.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace agentauth {
namespace {

bool RuleMatches(const CallerRule& rule, const CallerIdentity& caller) {
  return std::any_of(
      caller.identities.begin(), caller.identities.end(),
      [&](const std::string& identity) { return MatchesCallerPattern(rule.pattern, identity); });
}

// Empty when `rule` allows the request, else what it does not allow.
std::string RuleLimitExceeded(const CallerRule& rule, const std::vector<std::string>& scopes,
                              const std::string& audience) {
  if (rule.scopes) {
    for (const std::string& scope : scopes) {
      if (!std::binary_search(rule.scopes->begin(), rule.scopes->end(), scope)) {
        return absl::StrCat("scope \"", scope, "\" (allowed: ", absl::StrJoin(*rule.scopes, " "),
                            ")");
      }
    }
  }
  if (rule.audiences) {
    const bool listed = std::find(rule.audiences->begin(), rule.audiences->end(), audience) !=
                        rule.audiences->end();
    if (!listed) {
      return absl::StrCat(audience.empty() ? "a token without audience"
                                           : absl::StrCat("audience \"", audience, "\""),
                          " (allowed: ", absl::StrJoin(*rule.audiences, " "), ")");
    }
  }
  return "";
}

}  // namespace

bool CallerMayUseClient(const ClientConfig& client, const CallerIdentity& caller) {
  if (!client.allowed_callers) return true;
  return std::any_of(client.allowed_callers->begin(), client.allowed_callers->end(),
                     [&](const CallerRule& rule) { return RuleMatches(rule, caller); });
}

absl::Status AuthorizeTokenRequest(const ClientConfig& client, const CallerIdentity& caller,
                                   const std::vector<std::string>& scopes,
                                   const std::string& audience) {
  if (!client.allowed_callers) return absl::OkStatus();
  if (!caller.authenticated()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "client \"", client.name,
        "\" serves only identified callers; present a client certificate (mTLS), a Kubernetes "
        "service account token (authorization: Bearer), or connect over the Unix socket"));
  }

  std::string exceeded;
  for (const CallerRule& rule : *client.allowed_callers) {
    if (!RuleMatches(rule, caller)) continue;
    std::string limit = RuleLimitExceeded(rule, scopes, audience);
    if (limit.empty()) return absl::OkStatus();
    if (exceeded.empty()) exceeded = std::move(limit);
  }
  if (exceeded.empty()) {
    return absl::PermissionDeniedError(
        absl::StrCat("caller ", caller.Describe(), " may not use client \"", client.name, "\""));
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "caller ", caller.Describe(), " may not ask client \"", client.name, "\" for ", exceeded));
}

absl::Status CheckNoClientOpenBeyondLoopback(const Config& config) {
  const auto exposed =
      std::find_if(config.listeners.begin(), config.listeners.end(),
                   [](const ListenerConfig& listener) { return !listener.IsLocalOnly(); });
  if (exposed == config.listeners.end()) return absl::OkStatus();

  std::vector<std::string> open;
  for (const ClientConfig& client : config.clients) {
    if (!client.allowed_callers) open.push_back(client.name);
  }
  if (open.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("listener ", exposed->address,
                   " is reachable beyond this machine, and client(s) ", absl::StrJoin(open, ", "),
                   " have no allowed_callers, so anyone who connects would get their tokens; set "
                   "allowed_callers, listen on loopback or a Unix socket, or start with "
                   "--insecure-allow-any-caller"));
}

}  // namespace agentauth
