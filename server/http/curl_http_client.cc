#include "server/http/curl_http_client.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "server/common/text.h"
#include "server/http/url.h"

namespace agentauth {
namespace {

struct EasyDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// What Accept-Encoding offers. libcurl decodes every coding it was built with (br and zstd
// too) whatever was offered, so an answer in another coding is refused by OnHeader.
constexpr char kAcceptEncoding[] = "gzip, deflate";

// What the callbacks collect while a transfer runs.
struct Transfer {
  HttpResponse response;
  size_t max_body_bytes = 0;
  bool body_too_large = false;
  // The Content-Encoding header of an answer in a coding that was not offered.
  std::string unoffered_encoding;
};

int OnProgress(void* cancelled, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<std::atomic<bool>*>(cancelled)->load() ? 1 : 0;
}

bool IsOfferedEncoding(absl::string_view coding) {
  return coding == "gzip" || coding == "x-gzip" || coding == "deflate" || coding == "identity";
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  if (transfer->response.body.size() + bytes > transfer->max_body_bytes) {
    transfer->body_too_large = true;
    return 0;  // Aborts the transfer: a gzip bomb never gets inflated past the cap.
  }
  transfer->response.body.append(data, bytes);
  return bytes;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  const absl::string_view line(data, bytes);

  // A status line starts a new response (after 100 Continue): keep the last one's headers.
  if (absl::StartsWith(line, "HTTP/")) {
    transfer->response.headers.clear();
    return bytes;
  }
  const size_t colon = line.find(':');
  if (colon == absl::string_view::npos) return bytes;
  std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(line.substr(0, colon)));
  std::string value(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  if (name == "content-encoding") {
    for (absl::string_view coding : absl::StrSplit(value, ',')) {
      if (IsOfferedEncoding(absl::AsciiStrToLower(absl::StripAsciiWhitespace(coding)))) continue;
      transfer->unoffered_encoding = value;
      return 0;  // Aborts the transfer before any of the body is decoded.
    }
  }
  transfer->response.headers.emplace_back(std::move(name), std::move(value));
  return bytes;
}

std::string HostOf(const std::string& url) {
  absl::StatusOr<ParsedUrl> parsed = ParseHttpUrl(url);
  return parsed.ok() ? parsed->host : url;
}

// The proxy libcurl took from the environment (https_proxy, HTTPS_PROXY, ...) refused to open
// a tunnel: name it by the address libcurl connected to, which is the proxy's, so that the
// operator looks at the proxy rather than the provider. Never quotes the proxy URL, which may
// hold credentials.
absl::Status ProxyRefusal(CURL* curl, long connect_code, const HttpRequest& request) {
  char* proxy_ip = nullptr;
  long proxy_port = 0;
  curl_easy_getinfo(curl, CURLINFO_PRIMARY_IP, &proxy_ip);
  curl_easy_getinfo(curl, CURLINFO_PRIMARY_PORT, &proxy_port);
  std::string message =
      absl::StrCat("request to ", HostOf(request.url), " failed: the proxy at ",
                   proxy_ip != nullptr ? proxy_ip : "(unknown)", ":", proxy_port, " answered HTTP ",
                   connect_code, " to CONNECT instead of opening a tunnel");
  if (connect_code == 407) {
    absl::StrAppend(&message, "; it wants credentials (user:password@ in the proxy URL)");
  }
  absl::StrAppend(&message,
                  "; the proxy is the one named by https_proxy or HTTPS_PROXY (hosts listed in "
                  "NO_PROXY go direct)");
  return absl::UnavailableError(message);
}

absl::Status TransferError(CURLcode code, const char* detail, const HttpRequest& request) {
  const std::string cause = detail[0] != '\0' ? detail : curl_easy_strerror(code);
  const std::string where = absl::StrCat("request to ", HostOf(request.url), " failed: ");
  if (code == CURLE_OPERATION_TIMEDOUT) {
    return absl::DeadlineExceededError(
        absl::StrCat(where, "no complete answer within ", absl::FormatDuration(request.timeout)));
  }
  return absl::UnavailableError(absl::StrCat(where, cause));
}

void InitializeCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

std::string HttpResponse::Header(absl::string_view lower_case_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_case_name) return value;
  }
  return "";
}

std::string HttpResponse::MediaType() const {
  const std::string header = Header("content-type");
  absl::string_view type = header;
  type = type.substr(0, type.find(';'));
  return absl::AsciiStrToLower(absl::StripAsciiWhitespace(type));
}

CurlHttpClient::CurlHttpClient() { InitializeCurlOnce(); }

absl::StatusOr<HttpResponse> CurlHttpClient::Send(const HttpRequest& request) {
  std::unique_ptr<CURL, EasyDeleter> handle(curl_easy_init());
  if (handle == nullptr) return absl::ResourceExhaustedError("cannot allocate a curl handle");
  CURL* curl = handle.get();

  Transfer transfer;
  transfer.max_body_bytes = request.max_response_bytes;
  char error_detail[CURL_ERROR_SIZE] = {0};

  std::unique_ptr<curl_slist, SlistDeleter> headers;
  for (const auto& [name, value] : request.headers) {
    const std::string line = absl::StrCat(name, ": ", value);
    headers.reset(curl_slist_append(headers.release(), line.c_str()));
  }

  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(request.timeout)));
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!request.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, request.ca_file.c_str());
  // NOCOPY: the request outlives the transfer, and libcurl would not wipe a copy of the key.
  curl_blob certificate{const_cast<char*>(request.client_certificate_pem.data()),
                        request.client_certificate_pem.size(), CURL_BLOB_NOCOPY};
  curl_blob key{const_cast<char*>(request.client_key_pem.value().data()),
                request.client_key_pem.value().size(), CURL_BLOB_NOCOPY};
  if (!request.client_certificate_pem.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &certificate);
    curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &key);
    curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
  }
  // Providers send gzip even unasked; offer only what is decoded under the size cap.
  curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, kAcceptEncoding);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_detail);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  // libcurl calls this about once a second and whenever data moves; a non-zero answer aborts.
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &cancelled_);
  if (request.method == HttpRequest::Method::kPost) {
    // POSTFIELDSIZE makes libcurl send Content-Length instead of chunked encoding.
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  }

  if (cancelled_.load()) return absl::UnavailableError("the daemon is stopping");
  const CURLcode code = curl_easy_perform(curl);
  if (code == CURLE_ABORTED_BY_CALLBACK && cancelled_.load()) {
    return absl::UnavailableError(
        absl::StrCat("request to ", HostOf(request.url), " aborted: the daemon is stopping"));
  }
  if (transfer.body_too_large) {
    return absl::UnavailableError(absl::StrCat("response from ", HostOf(request.url),
                                               " is larger than ", request.max_response_bytes,
                                               " bytes"));
  }
  if (!transfer.unoffered_encoding.empty()) {
    return absl::UnavailableError(
        absl::StrCat("response from ", HostOf(request.url), " is encoded as \"",
                     SanitizeForMessage(transfer.unoffered_encoding, 64),
                     "\", which was not offered (", kAcceptEncoding, ")"));
  }
  if (code != CURLE_OK) {
    long connect_code = 0;
    curl_easy_getinfo(curl, CURLINFO_HTTP_CONNECTCODE, &connect_code);
    if (connect_code >= 300) return ProxyRefusal(curl, connect_code, request);
    return TransferError(code, error_detail, request);
  }

  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  transfer.response.status = static_cast<int>(status);
  return std::move(transfer.response);
}

}  // namespace agentauth
