#include "server/provider/jwt.h"

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"

namespace agentauth {

std::optional<absl::Time> JwtExpiry(absl::string_view token) {
  const std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) return std::nullopt;

  std::string payload;
  if (!absl::WebSafeBase64Unescape(parts[1], &payload)) return std::nullopt;

  const nlohmann::json claims = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (!claims.is_object()) return std::nullopt;
  const auto exp = claims.find("exp");
  if (exp == claims.end() || !exp->is_number()) return std::nullopt;
  // Casting an out-of-range double to an integer is undefined; no real exp is beyond year 9999.
  const double seconds = exp->get<double>();
  if (!(seconds > -253402300800.0 && seconds < 253402300800.0)) return std::nullopt;
  return absl::FromUnixSeconds(static_cast<int64_t>(seconds));
}

}  // namespace agentauth
