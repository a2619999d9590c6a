// Short, one-way fingerprints: how a secret or a token may appear in a log line or a cache key.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace agentauth {

// The first 12 hex digits of SHA-256 over `data`. Enough to tell two values apart in logs and
// to key a cache by credential; useless for recovering the value.
std::string Fingerprint(absl::string_view data);

}  // namespace agentauth
