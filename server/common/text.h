// Making untrusted text (what a provider sent) safe to put in an error message.
#pragma once

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace agentauth {

// Returns `text` with control characters escaped (\n, \r, \t, \xNN), runs of whitespace in
// HTML-ish bodies kept short, and the result cut to at most `max_bytes` (plus a "..." marker),
// never inside a UTF-8 sequence. Valid UTF-8 such as "é" is kept as it is.
std::string SanitizeForMessage(absl::string_view text, size_t max_bytes);

}  // namespace agentauth
