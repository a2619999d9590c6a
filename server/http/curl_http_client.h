// The one place that calls libcurl.
#pragma once

#include "server/http/http_client.h"

namespace agentauth {

// HttpClient over libcurl's easy interface, one handle per request. Thread-safe.
class CurlHttpClient final : public HttpClient {
 public:
  CurlHttpClient();
  absl::StatusOr<HttpResponse> Send(const HttpRequest& request) override;
};

}  // namespace agentauth
