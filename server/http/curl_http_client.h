// The one place that calls libcurl.
#pragma once

#include <atomic>

#include "server/http/http_client.h"

namespace agentauth {

// HttpClient over libcurl's easy interface, one handle per request. Thread-safe.
class CurlHttpClient final : public HttpClient {
 public:
  CurlHttpClient();
  absl::StatusOr<HttpResponse> Send(const HttpRequest& request) override;
  void CancelAll() override { cancelled_.store(true); }

 private:
  std::atomic<bool> cancelled_{false};
};

}  // namespace agentauth
