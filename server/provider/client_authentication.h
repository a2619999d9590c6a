// How the client's credentials are put into a token request (RFC 6749 2.3.1).
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace agentauth {

// The Authorization header value for client_secret_basic: "Basic " + base64 of
// form-encoded id ":" form-encoded secret. Encoding first matters: a raw secret holding '+',
// '%' or ':' is decoded into something else by a conforming provider.
std::string BasicAuthorization(absl::string_view client_id, absl::string_view client_secret);

}  // namespace agentauth
