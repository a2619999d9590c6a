#include "server/provider/client_authentication.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "server/http/url.h"

namespace agentauth {

std::string BasicAuthorization(absl::string_view client_id, absl::string_view client_secret) {
  const std::string credentials =
      absl::StrCat(FormUrlEncode(client_id), ":", FormUrlEncode(client_secret));
  return absl::StrCat("Basic ", absl::Base64Escape(credentials));
}

}  // namespace agentauth
