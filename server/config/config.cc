#include "server/config/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "server/common/fingerprint.h"
#include "server/common/status_macros.h"
#include "server/config/client_credentials_config.h"
#include "server/http/url.h"

namespace agentauth {
namespace {

using Json = nlohmann::json;

constexpr absl::string_view kDefaultAuthority = "https://ims.bentley.com";

// Every ASCII whitespace character: a scope list split on fewer lets "openid\r" through.
constexpr char kScopeSeparators[] = " \t\r\n\v\f";

// Larger files are not configs, secrets or CA bundles: /dev/zero must not exhaust memory.
constexpr std::streamsize kMaxFileBytes = 4 << 20;

// The iTwin.js agent client refuses these: they describe a signed-in user, which an agent is not.
const std::set<std::string, std::less<>> kUserScopes = {"openid", "email", "profile",
                                                        "organization"};

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

// A value as a message may quote it: scalars shortly, containers by their kind only (dumping a
// deeply nested array recurses without bound).
std::string ShortValue(const Json& value) {
  if (value.is_structured()) return std::string(TypeName(value));
  std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (text.size() > 64) text = text.substr(0, 64) + "...";
  return text;
}

absl::Status RequireObject(const Json& value, absl::string_view path) {
  if (value.is_object()) return absl::OkStatus();
  return PathError(path.empty() ? "config" : path,
                   absl::StrCat("expected an object, got ", TypeName(value)));
}

// Unknown keys are errors: a misspelt "min_valdity" silently ignored is a production incident.
absl::Status RejectUnknownKeys(const Json& object, absl::string_view path,
                               std::initializer_list<absl::string_view> allowed) {
  for (const auto& [key, unused] : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    return PathError(Child(path, key),
                     absl::StrCat("unknown key; expected one of ", absl::StrJoin(allowed, ", ")));
  }
  return absl::OkStatus();
}

// A config value together with where it was written, for messages about it.
template <typename T>
struct Located {
  std::optional<T> value;
  std::string path;
};

absl::Status ReadString(const Json& object, absl::string_view path, absl::string_view key,
                        Located<std::string>& out) {
  const auto found = object.find(key);
  if (found == object.end()) return absl::OkStatus();
  out.path = Child(path, key);
  if (!found->is_string()) {
    return PathError(out.path, absl::StrCat("expected a string, got ", TypeName(*found)));
  }
  out.value = found->get<std::string>();
  return absl::OkStatus();
}

absl::Status ReadBool(const Json& object, absl::string_view path, absl::string_view key,
                      Located<bool>& out) {
  const auto found = object.find(key);
  if (found == object.end()) return absl::OkStatus();
  out.path = Child(path, key);
  if (!found->is_boolean()) {
    return PathError(out.path, absl::StrCat("expected true or false, got ", TypeName(*found)));
  }
  out.value = found->get<bool>();
  return absl::OkStatus();
}

absl::Status ReadDuration(const Json& object, absl::string_view path, absl::string_view key,
                          absl::Duration min, absl::Duration max, Located<absl::Duration>& out) {
  Located<std::string> text;
  if (absl::Status status = ReadString(object, path, key, text); !status.ok()) {
    return object.at(std::string(key)).is_number()
               ? PathError(Child(path, key),
                           "expected a duration string such as \"60s\" or "
                           "\"5m\", got a number")
               : status;
  }
  if (!text.value) return absl::OkStatus();

  out.path = text.path;
  absl::Duration duration;
  if (!absl::ParseDuration(*text.value, &duration) || duration == absl::InfiniteDuration()) {
    return PathError(out.path, absl::StrCat("\"", *text.value,
                                            "\" is not a duration; write e.g. \"60s\", \"5m\"",
                                            " or \"1h30m\""));
  }
  if (duration < min || duration > max) {
    return PathError(out.path,
                     absl::StrCat(*text.value, " is out of range; expected ",
                                  absl::FormatDuration(min), " to ", absl::FormatDuration(max)));
  }
  out.value = duration;
  return absl::OkStatus();
}

absl::Status ReadNumber(const Json& object, absl::string_view path, absl::string_view key,
                        double min, double max, Located<double>& out) {
  const auto found = object.find(key);
  if (found == object.end()) return absl::OkStatus();
  out.path = Child(path, key);
  if (!found->is_number()) {
    return PathError(out.path, absl::StrCat("expected a number, got ", TypeName(*found)));
  }
  const double value = found->get<double>();
  if (value < min || value > max) {
    return PathError(out.path, absl::StrCat(ShortValue(*found), " is out of range; expected ", min,
                                            " to ", max));
  }
  out.value = value;
  return absl::OkStatus();
}

absl::Status ReadSize(const Json& object, absl::string_view path, absl::string_view key, size_t min,
                      size_t max, Located<size_t>& out) {
  const auto found = object.find(key);
  if (found == object.end()) return absl::OkStatus();
  out.path = Child(path, key);
  if (!found->is_number_unsigned()) {
    return PathError(out.path,
                     absl::StrCat("expected a whole number of bytes, got ", ShortValue(*found)));
  }
  const auto bytes = found->get<uint64_t>();
  if (bytes < min || bytes > max) {
    return PathError(
        out.path, absl::StrCat(bytes, " is out of range; expected ", min, " to ", max, " bytes"));
  }
  out.value = static_cast<size_t>(bytes);
  return absl::OkStatus();
}

// The keys that may appear both in "defaults" and in a client; the client's value wins.
struct SharedSettings {
  Located<std::string> authority;
  Located<std::string> url_prefix;
  Located<std::string> auth_method;
  Located<absl::Duration> min_validity;
  Located<absl::Duration> default_token_lifetime;
  Located<bool> allow_insecure_http;
  Located<absl::Duration> http_timeout;
  Located<std::string> http_ca_file;
  Located<size_t> http_max_response_bytes;
  Located<absl::Duration> discovery_ttl;
  Located<double> refresh_at;
  Located<absl::Duration> negative_cache_ttl;
  Located<absl::Duration> retry_base;
  Located<absl::Duration> retry_cap;
  Located<size_t> retry_max_attempts;
  Located<absl::Duration> retry_max_retry_after;
};

#define AGENTAUTH_SHARED_KEYS                                                         \
  "authority", "url_prefix", "auth_method", "min_validity", "default_token_lifetime", \
      "allow_insecure_http", "http", "discovery_ttl", "refresh_at", "negative_cache_ttl", "retry"

absl::Status ReadRetry(const Json& object, absl::string_view path, SharedSettings& out) {
  const auto found = object.find("retry");
  if (found == object.end()) return absl::OkStatus();
  const std::string retry_path = Child(path, "retry");
  AGENTAUTH_RETURN_IF_ERROR(RequireObject(*found, retry_path));
  AGENTAUTH_RETURN_IF_ERROR(
      RejectUnknownKeys(*found, retry_path, {"base", "cap", "max_attempts", "max_retry_after"}));
  AGENTAUTH_RETURN_IF_ERROR(ReadDuration(*found, retry_path, "base", absl::Milliseconds(10),
                                         absl::Minutes(5), out.retry_base));
  AGENTAUTH_RETURN_IF_ERROR(ReadDuration(*found, retry_path, "cap", absl::Milliseconds(10),
                                         absl::Hours(1), out.retry_cap));
  AGENTAUTH_RETURN_IF_ERROR(ReadDuration(*found, retry_path, "max_retry_after", absl::Seconds(1),
                                         absl::Hours(1), out.retry_max_retry_after));
  const auto attempts = found->find("max_attempts");
  if (attempts != found->end()) {
    out.retry_max_attempts.path = Child(retry_path, "max_attempts");
    if (!attempts->is_number_unsigned() || attempts->get<uint64_t>() < 1 ||
        attempts->get<uint64_t>() > 1000) {
      return PathError(
          out.retry_max_attempts.path,
          absl::StrCat("expected a whole number from 1 to 1000, got ", ShortValue(*attempts)));
    }
    out.retry_max_attempts.value = attempts->get<uint64_t>();
  }
  return absl::OkStatus();
}

absl::Status ReadHttp(const Json& object, absl::string_view path, SharedSettings& out) {
  const auto found = object.find("http");
  if (found == object.end()) return absl::OkStatus();
  const std::string http_path = Child(path, "http");
  AGENTAUTH_RETURN_IF_ERROR(RequireObject(*found, http_path));
  AGENTAUTH_RETURN_IF_ERROR(
      RejectUnknownKeys(*found, http_path, {"timeout", "ca_file", "max_response_bytes"}));
  AGENTAUTH_RETURN_IF_ERROR(ReadDuration(*found, http_path, "timeout", absl::Milliseconds(100),
                                         absl::Minutes(5), out.http_timeout));
  AGENTAUTH_RETURN_IF_ERROR(ReadString(*found, http_path, "ca_file", out.http_ca_file));
  return ReadSize(*found, http_path, "max_response_bytes", 16 << 10, 64 << 20,
                  out.http_max_response_bytes);
}

absl::Status ReadShared(const Json& object, absl::string_view path, SharedSettings& out) {
  for (auto [key, target] :
       {std::pair{"authority", &out.authority}, std::pair{"url_prefix", &out.url_prefix},
        std::pair{"auth_method", &out.auth_method}}) {
    AGENTAUTH_RETURN_IF_ERROR(ReadString(object, path, key, *target));
  }
  AGENTAUTH_RETURN_IF_ERROR(ReadDuration(object, path, "min_validity", absl::ZeroDuration(),
                                         absl::Hours(24), out.min_validity));
  AGENTAUTH_RETURN_IF_ERROR(ReadDuration(object, path, "default_token_lifetime", absl::Seconds(10),
                                         absl::Hours(24), out.default_token_lifetime));
  AGENTAUTH_RETURN_IF_ERROR(ReadBool(object, path, "allow_insecure_http", out.allow_insecure_http));
  AGENTAUTH_RETURN_IF_ERROR(ReadDuration(object, path, "discovery_ttl", absl::Seconds(10),
                                         absl::Hours(24 * 7), out.discovery_ttl));
  AGENTAUTH_RETURN_IF_ERROR(ReadNumber(object, path, "refresh_at", 0.1, 0.95, out.refresh_at));
  AGENTAUTH_RETURN_IF_ERROR(ReadDuration(object, path, "negative_cache_ttl", absl::Seconds(1),
                                         absl::Hours(1), out.negative_cache_ttl));
  AGENTAUTH_RETURN_IF_ERROR(ReadRetry(object, path, out));
  return ReadHttp(object, path, out);
}

// The client's value where it set one, else the default's.
template <typename T>
const Located<T>& Pick(const Located<T>& client, const Located<T>& defaults) {
  return client.value ? client : defaults;
}

absl::StatusOr<AuthMethod> ParseAuthMethod(const Located<std::string>& method) {
  if (!method.value) return AuthMethod::kAutomatic;
  if (*method.value == "client_secret_basic") return AuthMethod::kClientSecretBasic;
  if (*method.value == "client_secret_post") return AuthMethod::kClientSecretPost;
  if (*method.value == "client_secret_jwt") return AuthMethod::kClientSecretJwt;
  if (*method.value == "private_key_jwt") return AuthMethod::kPrivateKeyJwt;
  if (*method.value == "tls_client_auth") return AuthMethod::kTlsClientAuth;
  return PathError(method.path,
                   absl::StrCat("unknown method \"", *method.value,
                                "\"; expected client_secret_basic, client_secret_post, "
                                "client_secret_jwt, private_key_jwt or tls_client_auth"));
}

// Checks a provider URL: https, or http where it cannot leave the machine or is allowed.
absl::Status CheckProviderUrl(absl::string_view path, absl::string_view url,
                              bool allow_insecure_http) {
  absl::StatusOr<ParsedUrl> parsed = ParseHttpUrl(url);
  if (!parsed.ok()) return PathError(path, parsed.status().message());
  if (parsed->has_query || parsed->has_fragment) {
    return PathError(path, absl::StrCat("\"", url, "\" must not have a query or a fragment"));
  }
  if (parsed->scheme == "http" && !IsLoopbackHost(parsed->host) && !allow_insecure_http) {
    return PathError(path, absl::StrCat("\"", url,
                                        "\" uses plain http to a host other than loopback, "
                                        "which would send the client secret unencrypted; use "
                                        "https or set allow_insecure_http"));
  }
  return absl::OkStatus();
}

absl::Status CheckUrlPrefix(const Located<std::string>& prefix) {
  if (!prefix.value) return absl::OkStatus();
  for (char c : *prefix.value) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') {
      return PathError(prefix.path, absl::StrCat("\"", *prefix.value,
                                                 "\" is not a host prefix such as \"dev-\""));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckClientName(const std::string& name, absl::string_view path) {
  const bool valid_characters = std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
  if (name.empty() || name.size() > 64 || !valid_characters) {
    return PathError(path, absl::StrCat("\"", name, "\" is not a valid client name; use 1 to 64 ",
                                        "letters, digits, '.', '-' or '_'"));
  }
  return absl::OkStatus();
}

// Collects the scopes of a client: an array of strings or one space-separated string.
absl::Status ReadScopes(const Json& client, absl::string_view path, const std::string& name,
                        std::vector<std::string>& out) {
  const auto found = client.find("scopes");
  if (found == client.end()) return absl::OkStatus();
  const std::string scopes_path = Child(path, "scopes");

  std::vector<std::pair<std::string, std::string>> entries;  // (value, path)
  if (found->is_string()) {
    entries.emplace_back(found->get<std::string>(), scopes_path);
  } else if (found->is_array()) {
    for (size_t i = 0; i < found->size(); ++i) {
      const Json& entry = (*found)[i];
      if (!entry.is_string()) {
        return PathError(Element(scopes_path, i),
                         absl::StrCat("expected a string, got ", TypeName(entry)));
      }
      entries.emplace_back(entry.get<std::string>(), Element(scopes_path, i));
    }
  } else {
    return PathError(scopes_path,
                     absl::StrCat("expected an array of strings, got ", TypeName(*found)));
  }

  for (const auto& [value, entry_path] : entries) {
    for (absl::string_view scope :
         absl::StrSplit(value, absl::ByAnyChar(kScopeSeparators), absl::SkipEmpty())) {
      // Scopes are case-sensitive, but "OpenID" is a mistake, not a different scope.
      if (kUserScopes.contains(absl::AsciiStrToLower(scope))) {
        return PathError(entry_path,
                         absl::StrCat("client \"", name, "\" may not ask for scope \"", scope,
                                      "\": openid, email, profile and organization describe a "
                                      "signed-in user, which an agent is not"));
      }
      out.emplace_back(scope);
    }
  }
  out = NormalizeScopes(out);
  return absl::OkStatus();
}

absl::Status ReadSecret(const Json& client, absl::string_view path, const SecretSources& secrets,
                        ClientConfig& out) {
  Located<std::string> file;
  Located<std::string> env;
  AGENTAUTH_RETURN_IF_ERROR(ReadString(client, path, "client_secret_file", file));
  AGENTAUTH_RETURN_IF_ERROR(ReadString(client, path, "client_secret_env", env));
  if (file.value && env.value) {
    return PathError(path, "set only one of client_secret_file or client_secret_env");
  }
  // A client may log in with a key or a certificate only; ReadClientCredentials checks that
  // some credential is there.
  if (!file.value && !env.value) return absl::OkStatus();

  std::string secret;
  if (file.value) {
    absl::StatusOr<std::string> content = ReadSecretFile(secrets, *file.value);
    if (!content.ok()) return PathError(file.path, content.status().message());
    secret = *std::move(content);
    out.secret_source = absl::StrCat("file ", *file.value);
    out.secret_file = *file.value;
  } else {
    // A secret pasted here by mistake must not be repeated in the error message.
    const bool valid_name = !env.value->empty() &&
                            !absl::ascii_isdigit(static_cast<unsigned char>((*env.value)[0])) &&
                            std::all_of(env.value->begin(), env.value->end(), [](char c) {
                              return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_';
                            });
    if (!valid_name) {
      return PathError(env.path,
                       "not a valid environment variable name (letters, digits and "
                       "'_', not starting with a digit)");
    }
    std::optional<std::string> value = secrets.get_env(*env.value);
    if (!value) {
      return PathError(env.path, absl::StrCat("environment variable ", *env.value, " is not set"));
    }
    secret = *std::move(value);
    out.secret_source = absl::StrCat("environment variable ", *env.value);
    if (secret.empty()) {
      return PathError(env.path,
                       absl::StrCat("the client secret from ", out.secret_source, " is empty"));
    }
  }
  out.client_secret = SecretString(std::move(secret));
  return absl::OkStatus();
}

absl::Status ApplySharedSettings(const SharedSettings& client, const SharedSettings& defaults,
                                 const SecretSources& secrets, ClientConfig& out) {
  const Located<bool>& insecure = Pick(client.allow_insecure_http, defaults.allow_insecure_http);
  out.allow_insecure_http = insecure.value.value_or(false);

  const Located<std::string>& authority = Pick(client.authority, defaults.authority);
  const Located<std::string>& prefix = Pick(client.url_prefix, defaults.url_prefix);
  AGENTAUTH_RETURN_IF_ERROR(CheckUrlPrefix(prefix));
  const std::string authority_path = authority.value ? authority.path : "defaults.authority";
  absl::StatusOr<std::string> prefixed = PrefixUrlHost(
      authority.value.value_or(std::string(kDefaultAuthority)), prefix.value.value_or(""));
  if (!prefixed.ok()) return PathError(authority_path, prefixed.status().message());
  AGENTAUTH_RETURN_IF_ERROR(CheckProviderUrl(authority_path, *prefixed, out.allow_insecure_http));
  out.authority = *std::move(prefixed);

  absl::StatusOr<AuthMethod> method =
      ParseAuthMethod(Pick(client.auth_method, defaults.auth_method));
  if (!method.ok()) return method.status();
  out.auth_method = *method;

  out.min_validity =
      Pick(client.min_validity, defaults.min_validity).value.value_or(out.min_validity);
  out.default_token_lifetime = Pick(client.default_token_lifetime, defaults.default_token_lifetime)
                                   .value.value_or(out.default_token_lifetime);
  out.http.timeout =
      Pick(client.http_timeout, defaults.http_timeout).value.value_or(out.http.timeout);
  out.http.max_response_bytes =
      Pick(client.http_max_response_bytes, defaults.http_max_response_bytes)
          .value.value_or(out.http.max_response_bytes);

  out.discovery_ttl =
      Pick(client.discovery_ttl, defaults.discovery_ttl).value.value_or(out.discovery_ttl);
  RefreshPolicy& refresh = out.refresh;
  refresh.refresh_at =
      Pick(client.refresh_at, defaults.refresh_at).value.value_or(refresh.refresh_at);
  refresh.negative_cache_ttl = Pick(client.negative_cache_ttl, defaults.negative_cache_ttl)
                                   .value.value_or(refresh.negative_cache_ttl);
  RetryPolicy& retry = refresh.retry;
  retry.base = Pick(client.retry_base, defaults.retry_base).value.value_or(retry.base);
  retry.cap = Pick(client.retry_cap, defaults.retry_cap).value.value_or(retry.cap);
  retry.max_retry_after = Pick(client.retry_max_retry_after, defaults.retry_max_retry_after)
                              .value.value_or(retry.max_retry_after);
  retry.max_attempts =
      static_cast<int>(Pick(client.retry_max_attempts, defaults.retry_max_attempts)
                           .value.value_or(static_cast<size_t>(retry.max_attempts)));
  if (retry.cap < retry.base) {
    const Located<absl::Duration>& cap = Pick(client.retry_cap, defaults.retry_cap);
    return PathError(cap.path.empty() ? "retry.cap" : cap.path,
                     absl::StrCat("the cap ", absl::FormatDuration(retry.cap),
                                  " is below the base ", absl::FormatDuration(retry.base)));
  }

  const Located<std::string>& ca_file = Pick(client.http_ca_file, defaults.http_ca_file);
  if (ca_file.value) {
    absl::StatusOr<std::string> content = secrets.read_file(*ca_file.value);
    if (!content.ok()) return PathError(ca_file.path, content.status().message());
    out.http.ca_file = *ca_file.value;
  }
  return absl::OkStatus();
}

absl::StatusOr<ClientConfig> ParseClient(const Json& client, absl::string_view path,
                                         const SharedSettings& defaults, const Json* defaults_json,
                                         const SecretSources& secrets) {
  AGENTAUTH_RETURN_IF_ERROR(RequireObject(client, path));
  AGENTAUTH_RETURN_IF_ERROR(RejectUnknownKeys(
      client, path,
      {"name", "client_id", "client_secret_file", "client_secret_env", "scopes", "token_endpoint",
       "allowed_callers", AGENTAUTH_SHARED_KEYS, AGENTAUTH_CREDENTIAL_KEYS}));

  ClientConfig out;
  Located<std::string> name;
  Located<std::string> client_id;
  Located<std::string> token_endpoint;
  AGENTAUTH_RETURN_IF_ERROR(ReadString(client, path, "name", name));
  if (!name.value) return PathError(Child(path, "name"), "required");
  AGENTAUTH_RETURN_IF_ERROR(CheckClientName(*name.value, name.path));
  out.name = *name.value;

  AGENTAUTH_RETURN_IF_ERROR(ReadString(client, path, "client_id", client_id));
  if (!client_id.value || client_id.value->empty()) {
    return PathError(Child(path, "client_id"),
                     absl::StrCat("required for client \"", out.name, "\""));
  }
  out.client_id = *client_id.value;

  AGENTAUTH_RETURN_IF_ERROR(ReadSecret(client, path, secrets, out));
  AGENTAUTH_RETURN_IF_ERROR(ReadScopes(client, path, out.name, out.scopes));

  SharedSettings own;
  AGENTAUTH_RETURN_IF_ERROR(ReadShared(client, path, own));
  AGENTAUTH_RETURN_IF_ERROR(ApplySharedSettings(own, defaults, secrets, out));

  AGENTAUTH_RETURN_IF_ERROR(ReadString(client, path, "token_endpoint", token_endpoint));
  if (token_endpoint.value) {
    AGENTAUTH_RETURN_IF_ERROR(
        CheckProviderUrl(token_endpoint.path, *token_endpoint.value, out.allow_insecure_http));
    out.token_endpoint = *token_endpoint.value;
  }

  AGENTAUTH_RETURN_IF_ERROR(ReadClientCredentials(client, path, defaults_json, secrets, out));

  if (const auto callers = client.find("allowed_callers"); callers != client.end()) {
    absl::StatusOr<std::vector<CallerRule>> rules =
        ParseAllowedCallers(*callers, Child(path, "allowed_callers"), out.scopes);
    if (!rules.ok()) return rules.status();
    out.allowed_callers = *std::move(rules);
  }
  return out;
}

absl::Status CheckListen(const Located<std::string>& listen) {
  if (!listen.value) return absl::OkStatus();
  const std::string& address = *listen.value;
  if (absl::StartsWith(address, "unix:") && address.size() > 5) return absl::OkStatus();

  const size_t colon = address.rfind(':');
  int port = -1;
  const std::string port_text = colon == std::string::npos ? "" : address.substr(colon + 1);
  const bool all_digits = !port_text.empty() && port_text.size() <= 5 &&
                          std::all_of(port_text.begin(), port_text.end(), [](char c) {
                            return absl::ascii_isdigit(static_cast<unsigned char>(c));
                          });
  if (colon == 0 || !all_digits || !absl::SimpleAtoi(port_text, &port) || port > 65535) {
    return PathError(listen.path, absl::StrCat("\"", address, "\" is not an address such as ",
                                               "\"127.0.0.1:50051\" or \"unix:/run/a.sock\""));
  }
  return absl::OkStatus();
}

// The caller side (listeners, caller_auth, limits) lives in its own files.
absl::Status ReadCallerSide(const Json& root, bool has_listen, const SecretSources& secrets,
                            Config& config) {
  config.listeners = {ListenerConfig{.address = config.listen}};
  if (const auto found = root.find("listeners"); found != root.end()) {
    if (has_listen) return PathError("listeners", "set either listen or listeners, not both");
    absl::StatusOr<std::vector<ListenerConfig>> listeners =
        ParseListeners(*found, secrets.read_file);
    if (!listeners.ok()) return listeners.status();
    config.listeners = *std::move(listeners);
    config.listen = config.listeners.front().address;
  }
  if (const auto found = root.find("caller_auth"); found != root.end()) {
    absl::StatusOr<CallerAuthConfig> caller_auth = ParseCallerAuth(*found, secrets.read_file);
    if (!caller_auth.ok()) return caller_auth.status();
    config.caller_auth = *std::move(caller_auth);
  }
  if (const auto found = root.find("limits"); found != root.end()) {
    absl::StatusOr<LimitsConfig> limits = ParseLimits(*found);
    if (!limits.ok()) return limits.status();
    config.limits = *std::move(limits);
  }
  return absl::OkStatus();
}

}  // namespace

absl::string_view AuthMethodName(AuthMethod method) {
  switch (method) {
    case AuthMethod::kAutomatic:
      return "automatic";
    case AuthMethod::kClientSecretBasic:
      return "client_secret_basic";
    case AuthMethod::kClientSecretPost:
      return "client_secret_post";
    case AuthMethod::kClientSecretJwt:
      return "client_secret_jwt";
    case AuthMethod::kPrivateKeyJwt:
      return "private_key_jwt";
    case AuthMethod::kTlsClientAuth:
      return "tls_client_auth";
  }
  return "unknown";
}

const ClientConfig* Config::FindClient(absl::string_view name) const {
  for (const ClientConfig& client : clients) {
    if (client.name == name) return &client;
  }
  return nullptr;
}

SecretSources SecretSources::Real() {
  SecretSources sources;
  sources.read_file = [](const std::string& path) -> absl::StatusOr<std::string> {
    // Only regular files: a FIFO would block start-up forever, a device never end.
    struct stat info = {};
    if (stat(path.c_str(), &info) != 0) {
      return absl::NotFoundError(
          absl::StrCat("cannot read \"", path, "\": ", std::strerror(errno)));
    }
    if (!S_ISREG(info.st_mode)) {
      return absl::InvalidArgumentError(absl::StrCat("\"", path, "\" is not a regular file"));
    }
    if (info.st_size > kMaxFileBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", path, "\" is larger than ", kMaxFileBytes, " bytes"));
    }
    std::ifstream file(path, std::ios::binary);
    if (!file) {
      return absl::NotFoundError(
          absl::StrCat("cannot read \"", path, "\": ", std::strerror(errno)));
    }
    std::string content(static_cast<size_t>(kMaxFileBytes) + 1, '\0');
    file.read(content.data(), kMaxFileBytes + 1);
    content.resize(static_cast<size_t>(file.gcount()));
    if (content.size() > static_cast<size_t>(kMaxFileBytes)) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", path, "\" is larger than ", kMaxFileBytes, " bytes"));
    }
    return content;
  };
  sources.file_access = [](const std::string& path) -> absl::StatusOr<FileAccess> {
    // stat, not lstat: a Kubernetes Secret volume's files are symlinks into ..data, and what
    // matters is who may read the file they end at.
    struct stat info = {};
    if (stat(path.c_str(), &info) != 0) {
      return absl::NotFoundError(
          absl::StrCat("cannot read \"", path, "\": ", std::strerror(errno)));
    }
    FileAccess access;
    access.mode = info.st_mode & 07777;
    access.group_is_own = info.st_gid == getegid();
    std::vector<gid_t> groups(static_cast<size_t>(std::max(getgroups(0, nullptr), 0)));
    const int count = getgroups(static_cast<int>(groups.size()), groups.data());
    for (int i = 0; i < count && !access.group_is_own; ++i) {
      access.group_is_own = groups[static_cast<size_t>(i)] == info.st_gid;
    }
    return access;
  };
  sources.get_env = [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
  return sources;
}

absl::StatusOr<std::string> ReadSecretFile(const SecretSources& sources, const std::string& path) {
  absl::StatusOr<std::string> secret = sources.read_file(path);
  if (!secret.ok()) return absl::InvalidArgumentError(secret.status().message());
  if (absl::Status permissions =
          CheckSecretFilePermissions(sources, path, SecretFileKind::kClientSecret);
      !permissions.ok()) {
    SecretString wiped(*std::move(secret));
    return permissions;
  }

  // Secret files written with `echo` end in a newline that is not part of the secret.
  while (!secret->empty() && (secret->back() == '\n' || secret->back() == '\r')) {
    secret->pop_back();
  }
  if (std::all_of(secret->begin(), secret->end(),
                  [](char c) { return absl::ascii_isspace(static_cast<unsigned char>(c)); })) {
    return absl::InvalidArgumentError(
        absl::StrCat("the client secret from file ", path, " is empty"));
  }
  return secret;
}

std::string CredentialFingerprint(const ClientConfig& client) {
  const absl::string_view separator("\0", 1);
  return Fingerprint(absl::StrCat(
      client.client_id, separator, client.client_secret.value(), separator,
      AuthMethodName(client.auth_method), separator, client.private_key_pem.value(), separator,
      SigningAlgorithmName(client.signing_algorithm), separator, client.key_id, separator,
      client.tls_client_cert_pem, separator, client.tls_client_key_pem.value()));
}

std::vector<std::string> NormalizeScopes(const std::vector<std::string>& scopes) {
  std::set<std::string, std::less<>> unique;
  for (const std::string& entry : scopes) {
    for (absl::string_view scope :
         absl::StrSplit(entry, absl::ByAnyChar(kScopeSeparators), absl::SkipEmpty())) {
      unique.emplace(scope);
    }
  }
  return std::vector<std::string>(unique.begin(), unique.end());
}

absl::StatusOr<Config> ParseConfig(absl::string_view json_text, const SecretSources& secrets) {
  Json root;
  try {
    root = Json::parse(json_text);
  } catch (const Json::exception& error) {
    // parse_error for broken syntax, out_of_range for a number beyond a double ("1e999").
    // what() reads "[json.exception.parse_error.101] parse error at line 1, column 14: ...";
    // the part after the bracketed id is what a person needs.
    absl::string_view detail = error.what();
    if (const size_t id_end = detail.find("] "); id_end != absl::string_view::npos) {
      detail.remove_prefix(id_end + 2);
    }
    return absl::InvalidArgumentError(absl::StrCat("not valid JSON: ", detail));
  }
  AGENTAUTH_RETURN_IF_ERROR(RequireObject(root, ""));
  AGENTAUTH_RETURN_IF_ERROR(RejectUnknownKeys(
      root, "",
      {"listen", "listeners", "metrics_listen", "prewarm", "max_concurrent_fetches",
       "secret_check_interval", "defaults", "clients", "caller_auth", "limits"}));

  Config config;
  Located<std::string> listen;
  AGENTAUTH_RETURN_IF_ERROR(ReadString(root, "", "listen", listen));
  AGENTAUTH_RETURN_IF_ERROR(CheckListen(listen));
  if (listen.value) config.listen = *listen.value;
  AGENTAUTH_RETURN_IF_ERROR(ReadCallerSide(root, listen.value.has_value(), secrets, config));

  Located<std::string> metrics_listen;
  AGENTAUTH_RETURN_IF_ERROR(ReadString(root, "", "metrics_listen", metrics_listen));
  if (metrics_listen.value && !metrics_listen.value->empty()) {
    if (absl::StartsWith(*metrics_listen.value, "unix:")) {
      return PathError(metrics_listen.path, "metrics are served over TCP only (host:port)");
    }
    AGENTAUTH_RETURN_IF_ERROR(CheckListen(metrics_listen));
  }
  if (metrics_listen.value) config.metrics_listen = *metrics_listen.value;

  Located<bool> prewarm;
  AGENTAUTH_RETURN_IF_ERROR(ReadBool(root, "", "prewarm", prewarm));
  config.prewarm = prewarm.value.value_or(config.prewarm);
  Located<absl::Duration> secret_check;
  AGENTAUTH_RETURN_IF_ERROR(ReadDuration(root, "", "secret_check_interval", absl::Seconds(1),
                                         absl::Hours(1), secret_check));
  config.secret_check_interval = secret_check.value.value_or(config.secret_check_interval);
  Located<double> fetches;
  AGENTAUTH_RETURN_IF_ERROR(ReadNumber(root, "", "max_concurrent_fetches", 1, 1024, fetches));
  if (fetches.value) {
    if (*fetches.value != static_cast<int>(*fetches.value)) {
      return PathError(fetches.path, "expected a whole number from 1 to 1024");
    }
    config.max_concurrent_fetches = static_cast<int>(*fetches.value);
  }

  SharedSettings defaults;
  const Json* defaults_json = nullptr;
  if (const auto found = root.find("defaults"); found != root.end()) {
    defaults_json = &*found;
    AGENTAUTH_RETURN_IF_ERROR(RequireObject(*found, "defaults"));
    AGENTAUTH_RETURN_IF_ERROR(
        RejectUnknownKeys(*found, "defaults", {AGENTAUTH_SHARED_KEYS, AGENTAUTH_CREDENTIAL_KEYS}));
    AGENTAUTH_RETURN_IF_ERROR(ReadShared(*found, "defaults", defaults));
  }

  const auto clients = root.find("clients");
  if (clients == root.end() || !clients->is_array() || clients->empty()) {
    return PathError("clients", "expected an array with at least one client");
  }
  for (size_t i = 0; i < clients->size(); ++i) {
    const std::string path = Element("clients", i);
    absl::StatusOr<ClientConfig> client =
        ParseClient((*clients)[i], path, defaults, defaults_json, secrets);
    if (!client.ok()) return client.status();
    if (const ClientConfig* earlier = config.FindClient(client->name); earlier != nullptr) {
      return PathError(Child(path, "name"),
                       absl::StrCat("client name \"", client->name, "\" is used twice"));
    }
    config.clients.push_back(*std::move(client));
  }
  return config;
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path, const SecretSources& secrets) {
  absl::StatusOr<std::string> text = secrets.read_file(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("config: ", text.status().message()));
  }
  absl::StatusOr<Config> config = ParseConfig(*text, secrets);
  if (!config.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", config.status().message()));
  }
  return config;
}

}  // namespace agentauth
