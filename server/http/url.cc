#include "server/http/url.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>

#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace agentauth {
namespace {

struct CurlUrlDeleter {
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};
using CurlUrl = std::unique_ptr<CURLU, CurlUrlDeleter>;

struct CurlStringDeleter {
  void operator()(char* text) const { curl_free(text); }
};

// Reads one part of a parsed URL; empty when the URL has no such part.
std::string GetPart(CURLU* url, CURLUPart part) {
  char* raw = nullptr;
  if (curl_url_get(url, part, &raw, 0) != CURLUE_OK || raw == nullptr) return "";
  std::unique_ptr<char, CurlStringDeleter> owned(raw);
  return std::string(raw);
}

absl::StatusOr<CurlUrl> ParseWithCurl(absl::string_view url) {
  CurlUrl parsed(curl_url());
  if (parsed == nullptr) return absl::ResourceExhaustedError("cannot allocate a URL handle");

  const std::string text(url);
  const CURLUcode code = curl_url_set(parsed.get(), CURLUPART_URL, text.c_str(), 0);
  if (code != CURLUE_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", url, "\" is not a valid URL: ", curl_url_strerror(code)));
  }
  return parsed;
}

}  // namespace

absl::StatusOr<ParsedUrl> ParseHttpUrl(absl::string_view url) {
  // libcurl would guess a scheme for "idp.example.test"; a config must say which it means.
  if (!absl::StrContains(url, "://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", url, "\" is not an absolute URL (expected https://host/...)"));
  }
  absl::StatusOr<CurlUrl> parsed = ParseWithCurl(url);
  if (!parsed.ok()) return parsed.status();

  ParsedUrl result;
  result.scheme = absl::AsciiStrToLower(GetPart(parsed->get(), CURLUPART_SCHEME));
  if (result.scheme != "http" && result.scheme != "https") {
    return absl::InvalidArgumentError(absl::StrCat("\"", url, "\" is not an http or https URL"));
  }
  result.host = GetPart(parsed->get(), CURLUPART_HOST);
  if (result.host.size() >= 2 && result.host.front() == '[' && result.host.back() == ']') {
    result.host = result.host.substr(1, result.host.size() - 2);
  }
  if (result.host.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("\"", url, "\" has no host"));
  }
  result.path = GetPart(parsed->get(), CURLUPART_PATH);
  if (result.path.empty()) result.path = "/";
  result.has_query = !GetPart(parsed->get(), CURLUPART_QUERY).empty();
  result.has_fragment = !GetPart(parsed->get(), CURLUPART_FRAGMENT).empty();
  return result;
}

bool IsLoopbackHost(absl::string_view host) {
  const std::string lower = absl::AsciiStrToLower(host);
  if (lower == "localhost") return true;

  in_addr v4 = {};
  if (inet_pton(AF_INET, lower.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6 = {};
  return inet_pton(AF_INET6, lower.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

absl::StatusOr<std::string> PrefixUrlHost(absl::string_view url, absl::string_view prefix) {
  if (prefix.empty()) return std::string(url);

  absl::StatusOr<CurlUrl> parsed = ParseWithCurl(url);
  if (!parsed.ok()) return parsed.status();
  const std::string host = absl::StrCat(prefix, GetPart(parsed->get(), CURLUPART_HOST));
  if (curl_url_set(parsed->get(), CURLUPART_HOST, host.c_str(), 0) != CURLUE_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat("prefix \"", prefix, "\" does not make a valid host of \"", url, "\""));
  }
  std::string prefixed = GetPart(parsed->get(), CURLUPART_URL);

  // libcurl adds a "/" path to a bare authority; keep the URL as the user wrote it, since the
  // issuer is compared with the discovery document character for character.
  if (!absl::EndsWith(url, "/") && absl::EndsWith(prefixed, "/")) prefixed.pop_back();
  return prefixed;
}

std::string FormUrlEncode(absl::string_view text) {
  std::unique_ptr<char, CurlStringDeleter> escaped(
      curl_easy_escape(nullptr, text.data(), static_cast<int>(text.size())));
  if (escaped == nullptr) return "";
  return absl::StrReplaceAll(escaped.get(), {{"%20", "+"}});
}

}  // namespace agentauth
