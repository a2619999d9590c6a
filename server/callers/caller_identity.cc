#include "server/callers/caller_identity.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/common/text.h"

namespace agentauth {

std::string CallerIdentity::Describe() const {
  if (identities.empty()) return absl::StrCat("anonymous caller from ", peer_host);
  // A certificate may carry many SANs; the message stays readable and bounded.
  return SanitizeForMessage(absl::StrJoin(identities, ","), 256);
}

std::string CallerIdentity::RateLimitKey() const {
  return identities.empty() ? absl::StrCat("peer:", peer_host) : identities.front();
}

bool MatchesCallerPattern(absl::string_view pattern, absl::string_view identity) {
  // matched[i]: the pattern so far matches identity[0, i). One row per pattern character keeps
  // this O(pattern x identity) whatever the stars, with no backtracking to reason about.
  std::vector<bool> matched(identity.size() + 1, false);
  matched[0] = true;
  for (const char token : pattern) {
    std::vector<bool> next(identity.size() + 1, false);
    if (token == '*') {
      next[0] = matched[0];
      for (size_t i = 1; i <= identity.size(); ++i) {
        next[i] = matched[i] || (next[i - 1] && identity[i - 1] != '/');
      }
    } else {
      for (size_t i = 1; i <= identity.size(); ++i) {
        next[i] = matched[i - 1] && identity[i - 1] == token;
      }
    }
    matched = std::move(next);
  }
  return matched[identity.size()];
}

}  // namespace agentauth
