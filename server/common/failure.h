// What a failed provider request means for the next one, carried on the absl::Status itself
// (as a payload) so that it crosses the fetch function's StatusOr<T> boundary unchanged.
#pragma once

#include <optional>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace agentauth {

enum class FailureKind {
  // Worth retrying soon: timeouts, connection errors, 408, 413, 429, 500, 502, 503, 504.
  kTransient,
  // The provider's considered answer (invalid_client, invalid_scope, 400, 401, a sign-in page):
  // repeating the request unchanged gets the same answer.
  kDefinitive,
};

// `status` with its kind recorded. REQUIRES: !status.ok().
absl::Status WithFailureKind(absl::Status status, FailureKind kind);

// The recorded kind; transient when none was recorded (an unknown failure may be temporary).
FailureKind FailureKindOf(const absl::Status& status);

// `status` carrying the provider's Retry-After delay.
absl::Status WithRetryAfter(absl::Status status, absl::Duration delay);
std::optional<absl::Duration> RetryAfterOf(const absl::Status& status);

}  // namespace agentauth
