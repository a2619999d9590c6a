// The Retry-After header (RFC 9110 10.2.3).
#pragma once

#include <optional>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace agentauth {

// The delay `value` asks for at `now`: delay-seconds ("120") or an HTTP-date ("Fri, 04 Dec 2026
// 16:00:00 GMT"; a date in the past means no delay). nullopt for anything else, including a
// negative number, so that the caller falls back to its own backoff.
std::optional<absl::Duration> ParseRetryAfter(absl::string_view value, absl::Time now);

}  // namespace agentauth
