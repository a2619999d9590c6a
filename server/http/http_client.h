// HTTP as the provider client needs it, behind a seam. Nothing above this folder knows libcurl.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/common/secret_string.h"

namespace agentauth {

struct HttpRequest {
  enum class Method { kGet, kPost };

  Method method = Method::kGet;
  std::string url;
  // Sent as given. A POST always carries Content-Length: some providers answer 404 to a chunked
  // token request.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // Total time for connect, TLS, request and the whole response: a provider trickling one byte
  // at a time cannot hold a request longer than this.
  absl::Duration timeout = absl::Seconds(10);
  // PEM bundle to verify the server with, instead of the system's CAs. Empty: system CAs.
  std::string ca_file;
  // A client certificate (PEM, leaf first) and its unencrypted PEM key, presented when the
  // server asks for one (mutual TLS, RFC 8705). Both empty: none.
  std::string client_certificate_pem;
  SecretString client_key_pem;
  // A response body (after decompression) larger than this is an error, not a truncation.
  size_t max_response_bytes = 1 << 20;
};

struct HttpResponse {
  int status = 0;
  // Lower-case header names, in the order received; the final response's headers only.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first value of header `lower_case_name`, or empty.
  std::string Header(absl::string_view lower_case_name) const;
  // The media type of Content-Type without parameters, lower case (e.g. "application/json").
  std::string MediaType() const;
};

// Sends one request. Redirects are never followed (a 3xx is returned as a response), TLS is
// always verified, only http and https are spoken.
//
// Errors (the message names the host and the cause):
//   UNAVAILABLE        connection, TLS or protocol failure, body over the size cap, bad encoding
//                      or a Content-Encoding that was not offered, a proxy (from https_proxy)
//                      refusing to open a tunnel (the message names the proxy's address).
//   DEADLINE_EXCEEDED  `timeout` passed.
//   INVALID_ARGUMENT   the URL cannot be used.
//
// Thread-safe: any number of threads may send at once.
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual absl::StatusOr<HttpResponse> Send(const HttpRequest& request) = 0;

  // Aborts the requests in flight (they fail UNAVAILABLE at once) and every later one: the
  // daemon is stopping and nobody waits for their answers. The default does nothing.
  virtual void CancelAll() {}
};

}  // namespace agentauth
