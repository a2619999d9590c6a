#include "server/http/retry_after.h"

#include <curl/curl.h>

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"

namespace agentauth {

std::optional<absl::Duration> ParseRetryAfter(absl::string_view value, absl::Time now) {
  value = absl::StripAsciiWhitespace(value);
  if (value.empty()) return std::nullopt;

  if (absl::ascii_isdigit(static_cast<unsigned char>(value[0]))) {
    uint64_t seconds = 0;
    if (!absl::SimpleAtoi(value, &seconds)) return std::nullopt;
    // Anything beyond a day is nonsense; callers cap it further. Clamping here avoids overflow.
    return absl::Seconds(std::min<uint64_t>(seconds, 86400));
  }

  const std::string date(value);
  const time_t when = curl_getdate(date.c_str(), nullptr);
  if (when == -1) return std::nullopt;
  return std::max(absl::FromTimeT(when) - now, absl::ZeroDuration());
}

}  // namespace agentauth
