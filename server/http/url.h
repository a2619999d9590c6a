// URL handling for configuration and discovery, on libcurl's URL parser.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace agentauth {

struct ParsedUrl {
  std::string scheme;  // lower case: "http" or "https"
  std::string host;    // as written, without brackets for IPv6 literals
  std::string path;    // "/" at least
  bool has_query = false;
  bool has_fragment = false;
};

// Parses an absolute http(s) URL. INVALID_ARGUMENT, naming the problem, for anything else.
absl::StatusOr<ParsedUrl> ParseHttpUrl(absl::string_view url);

// True for "localhost", 127.0.0.0/8 and ::1: hosts a plain-http request cannot leave the machine
// to reach.
bool IsLoopbackHost(absl::string_view host);

// Puts `prefix` in front of the URL's host ("dev-" turns https://ims.bentley.com into
// https://dev-ims.bentley.com), as iTwin deployments name their environments.
absl::StatusOr<std::string> PrefixUrlHost(absl::string_view url, absl::string_view prefix);

// application/x-www-form-urlencoded encoding of one name or value: unreserved characters kept,
// space as '+', everything else %XX (RFC 6749 appendix B).
std::string FormUrlEncode(absl::string_view text);

}  // namespace agentauth
