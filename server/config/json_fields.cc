#include "server/config/json_fields.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace agentauth::config_json {

absl::Status PathError(absl::string_view path, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", message));
}

std::string Child(absl::string_view path, absl::string_view key) {
  return path.empty() ? std::string(key) : absl::StrCat(path, ".", key);
}

std::string Element(absl::string_view path, size_t index) {
  return absl::StrCat(path, "[", index, "]");
}

absl::string_view TypeName(const Json& value) {
  if (value.is_number()) return "a number";
  if (value.is_string()) return "a string";
  if (value.is_boolean()) return "a boolean";
  if (value.is_array()) return "an array";
  if (value.is_object()) return "an object";
  return "null";
}

absl::Status RequireObject(const Json& value, absl::string_view path) {
  if (value.is_object()) return absl::OkStatus();
  return PathError(path.empty() ? "config" : path,
                   absl::StrCat("expected an object, got ", TypeName(value)));
}

absl::Status RejectUnknownKeys(const Json& object, absl::string_view path,
                               std::initializer_list<absl::string_view> allowed) {
  for (const auto& [key, unused] : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    return PathError(Child(path, key),
                     absl::StrCat("unknown key; expected one of ", absl::StrJoin(allowed, ", ")));
  }
  return absl::OkStatus();
}

absl::Status ReadString(const Json& object, absl::string_view path, absl::string_view key,
                        std::optional<std::string>& out) {
  const auto found = object.find(key);
  if (found == object.end()) return absl::OkStatus();
  if (!found->is_string()) {
    return PathError(Child(path, key), absl::StrCat("expected a string, got ", TypeName(*found)));
  }
  out = found->get<std::string>();
  return absl::OkStatus();
}

absl::Status ReadDuration(const Json& object, absl::string_view path, absl::string_view key,
                          absl::Duration min, absl::Duration max,
                          std::optional<absl::Duration>& out) {
  const auto found = object.find(key);
  if (found == object.end()) return absl::OkStatus();
  const std::string where = Child(path, key);
  if (!found->is_string()) {
    return PathError(
        where, absl::StrCat("expected a duration string such as \"30s\", got ", TypeName(*found)));
  }
  const std::string text = found->get<std::string>();
  absl::Duration duration;
  if (!absl::ParseDuration(text, &duration) || duration == absl::InfiniteDuration()) {
    return PathError(where, absl::StrCat("\"", text.substr(0, 64),
                                         "\" is not a duration; write e.g. \"30s\" or \"10m\""));
  }
  if (duration < min || duration > max) {
    return PathError(
        where, absl::StrCat(text, " is out of range; expected ", absl::FormatDuration(min), " to ",
                            absl::FormatDuration(max)));
  }
  out = duration;
  return absl::OkStatus();
}

absl::Status ReadWholeNumber(const Json& object, absl::string_view path, absl::string_view key,
                             uint64_t min, uint64_t max, std::optional<uint64_t>& out) {
  const auto found = object.find(key);
  if (found == object.end()) return absl::OkStatus();
  if (!found->is_number_unsigned() || found->get<uint64_t>() < min ||
      found->get<uint64_t>() > max) {
    return PathError(Child(path, key),
                     absl::StrCat("expected a whole number from ", min, " to ", max));
  }
  out = found->get<uint64_t>();
  return absl::OkStatus();
}

absl::Status ReadStringArray(const Json& object, absl::string_view path, absl::string_view key,
                             std::optional<std::vector<std::string>>& out) {
  const auto found = object.find(key);
  if (found == object.end()) return absl::OkStatus();
  const std::string where = Child(path, key);
  if (!found->is_array()) {
    return PathError(where, absl::StrCat("expected an array of strings, got ", TypeName(*found)));
  }
  std::vector<std::string> values;
  for (size_t i = 0; i < found->size(); ++i) {
    const Json& entry = (*found)[i];
    if (!entry.is_string() || entry.get<std::string>().empty()) {
      return PathError(Element(where, i), "expected a non-empty string");
    }
    values.push_back(entry.get<std::string>());
  }
  out = std::move(values);
  return absl::OkStatus();
}

}  // namespace agentauth::config_json
