#include "server/common/failure.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace agentauth {
namespace {

constexpr char kKindUrl[] = "type.agentauth.dev/failure-kind";
constexpr char kRetryAfterUrl[] = "type.agentauth.dev/retry-after-ms";

}  // namespace

absl::Status WithFailureKind(absl::Status status, FailureKind kind) {
  status.SetPayload(kKindUrl,
                    absl::Cord(kind == FailureKind::kDefinitive ? "definitive" : "transient"));
  return status;
}

FailureKind FailureKindOf(const absl::Status& status) {
  const absl::optional<absl::Cord> kind = status.GetPayload(kKindUrl);
  return kind.has_value() && *kind == "definitive" ? FailureKind::kDefinitive
                                                   : FailureKind::kTransient;
}

absl::Status WithRetryAfter(absl::Status status, absl::Duration delay) {
  status.SetPayload(kRetryAfterUrl, absl::Cord(absl::StrCat(absl::ToInt64Milliseconds(delay))));
  return status;
}

std::optional<absl::Duration> RetryAfterOf(const absl::Status& status) {
  const absl::optional<absl::Cord> payload = status.GetPayload(kRetryAfterUrl);
  int64_t milliseconds = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &milliseconds)) {
    return std::nullopt;
  }
  return absl::Milliseconds(milliseconds);
}

}  // namespace agentauth
