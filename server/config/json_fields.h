// Reading typed values out of a parsed config document, shared by the config parsers (clients,
// credentials, listeners, caller_auth, limits, allowed_callers). Every error is INVALID_ARGUMENT
// and starts with the JSON path of the bad value: `listeners[1].tls.cert_file: required`.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace agentauth::config_json {

using Json = nlohmann::json;

absl::Status PathError(absl::string_view path, absl::string_view message);
std::string Child(absl::string_view path, absl::string_view key);
std::string Element(absl::string_view path, size_t index);
// "a number", "an object", ...: what a message says was found instead.
absl::string_view TypeName(const Json& value);

// The empty path is the document itself, named "config" in the message.
absl::Status RequireObject(const Json& value, absl::string_view path);
// Unknown keys are errors: a misspelt key silently ignored is a production incident.
absl::Status RejectUnknownKeys(const Json& object, absl::string_view path,
                               std::initializer_list<absl::string_view> allowed);

// Each reader leaves `out` untouched when `key` is absent and fails when it has another type.
absl::Status ReadString(const Json& object, absl::string_view path, absl::string_view key,
                        std::optional<std::string>& out);
// A duration string ("30s", "10m") within [min, max].
absl::Status ReadDuration(const Json& object, absl::string_view path, absl::string_view key,
                          absl::Duration min, absl::Duration max,
                          std::optional<absl::Duration>& out);
// A whole number within [min, max].
absl::Status ReadWholeNumber(const Json& object, absl::string_view path, absl::string_view key,
                             uint64_t min, uint64_t max, std::optional<uint64_t>& out);
// An array of non-empty strings.
absl::Status ReadStringArray(const Json& object, absl::string_view path, absl::string_view key,
                             std::optional<std::vector<std::string>>& out);

}  // namespace agentauth::config_json
