#include "server/config/listener_config.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/config/json_fields.h"
#include "server/http/url.h"

namespace agentauth {
namespace {

using config_json::Child;
using config_json::Element;
using config_json::Json;
using config_json::PathError;

constexpr absl::string_view kUnixPrefix = "unix:";

absl::StatusOr<mode_t> ParseSocketMode(const Json& listener, const std::string& path) {
  std::optional<std::string> text;
  AGENTAUTH_RETURN_IF_ERROR(config_json::ReadString(listener, path, "socket_mode", text));
  const std::string where = Child(path, "socket_mode");
  const bool octal =
      !text->empty() && text->size() <= 4 &&
      std::all_of(text->begin(), text->end(), [](char c) { return c >= '0' && c <= '7'; });
  if (!octal) {
    return PathError(where, absl::StrCat("\"", text->substr(0, 16),
                                         "\" is not an octal file mode such as \"0660\""));
  }
  const auto mode = static_cast<mode_t>(std::stoul(*text, nullptr, 8));
  if ((mode & 0600) != 0600) {
    return PathError(where, "the daemon's own user needs read and write (0600 at least)");
  }
  if ((mode & 0007) != 0) {
    return PathError(where,
                     "other users must not reach the socket (the last digit must be 0); grant "
                     "access through the socket's group instead");
  }
  return mode;
}

absl::StatusOr<ListenerTlsConfig> ParseTls(
    const Json& tls, const std::string& path,
    const std::function<absl::StatusOr<std::string>(const std::string&)>& read_file) {
  AGENTAUTH_RETURN_IF_ERROR(config_json::RequireObject(tls, path));
  AGENTAUTH_RETURN_IF_ERROR(
      config_json::RejectUnknownKeys(tls, path, {"cert_file", "key_file", "client_ca_file"}));

  ListenerTlsConfig out;
  for (auto [key, target, required] :
       {std::tuple{"cert_file", &out.cert_file, true}, std::tuple{"key_file", &out.key_file, true},
        std::tuple{"client_ca_file", &out.client_ca_file, false}}) {
    std::optional<std::string> file;
    AGENTAUTH_RETURN_IF_ERROR(config_json::ReadString(tls, path, key, file));
    if (!file || file->empty()) {
      if (required) return PathError(Child(path, key), "required for a TLS listener");
      continue;
    }
    // Only whether it can be read: the content is never quoted, a key file is a secret.
    if (absl::StatusOr<std::string> content = read_file(*file); !content.ok()) {
      return PathError(Child(path, key), content.status().message());
    }
    *target = *file;
  }
  return out;
}

absl::StatusOr<ListenerConfig> ParseListener(
    const Json& listener, const std::string& path,
    const std::function<absl::StatusOr<std::string>(const std::string&)>& read_file) {
  AGENTAUTH_RETURN_IF_ERROR(config_json::RequireObject(listener, path));
  AGENTAUTH_RETURN_IF_ERROR(
      config_json::RejectUnknownKeys(listener, path, {"address", "tls", "socket_mode"}));

  ListenerConfig out;
  std::optional<std::string> address;
  AGENTAUTH_RETURN_IF_ERROR(config_json::ReadString(listener, path, "address", address));
  if (!address) return PathError(Child(path, "address"), "required");
  AGENTAUTH_RETURN_IF_ERROR(CheckListenAddress(*address, Child(path, "address")));
  out.address = *address;

  if (listener.contains("socket_mode")) {
    if (!out.IsUnix()) {
      return PathError(Child(path, "socket_mode"), "only a unix: listener has a file mode");
    }
    absl::StatusOr<mode_t> mode = ParseSocketMode(listener, path);
    if (!mode.ok()) return mode.status();
    out.socket_mode = *mode;
  }
  if (const auto tls = listener.find("tls"); tls != listener.end()) {
    if (out.IsUnix()) {
      return PathError(Child(path, "tls"),
                       "a Unix socket is protected by its file mode, not TLS; use socket_mode");
    }
    absl::StatusOr<ListenerTlsConfig> parsed = ParseTls(*tls, Child(path, "tls"), read_file);
    if (!parsed.ok()) return parsed.status();
    out.tls = *std::move(parsed);
  }
  return out;
}

}  // namespace

bool ListenerConfig::IsUnix() const { return absl::StartsWith(address, kUnixPrefix); }

std::string ListenerConfig::UnixPath() const { return address.substr(kUnixPrefix.size()); }

bool ListenerConfig::IsLocalOnly() const {
  if (IsUnix()) return true;
  std::string host = address.substr(0, address.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return IsLoopbackHost(host);
}

absl::Status CheckListenAddress(const std::string& address, const std::string& path) {
  if (absl::StartsWith(address, kUnixPrefix)) {
    if (address.size() > kUnixPrefix.size() + 1 && address[kUnixPrefix.size()] == '/' &&
        address.size() - kUnixPrefix.size() < 108) {
      return absl::OkStatus();
    }
    return PathError(path, absl::StrCat("\"", address.substr(0, 128),
                                        "\" is not a Unix socket address such as "
                                        "\"unix:/run/agentauth/agentauth.sock\" (an absolute "
                                        "path of at most 107 bytes)"));
  }
  const size_t colon = address.rfind(':');
  const std::string port_text = colon == std::string::npos ? "" : address.substr(colon + 1);
  int port = -1;
  const bool all_digits = !port_text.empty() && port_text.size() <= 5 &&
                          std::all_of(port_text.begin(), port_text.end(), [](char c) {
                            return absl::ascii_isdigit(static_cast<unsigned char>(c));
                          });
  if (colon == 0 || colon == std::string::npos || !all_digits ||
      !absl::SimpleAtoi(port_text, &port) || port > 65535) {
    return PathError(path,
                     absl::StrCat("\"", address.substr(0, 128), "\" is not an address such as ",
                                  "\"127.0.0.1:50051\" or \"unix:/run/a.sock\""));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ListenerConfig>> ParseListeners(
    const Json& listeners,
    const std::function<absl::StatusOr<std::string>(const std::string&)>& read_file) {
  if (!listeners.is_array() || listeners.empty()) {
    return PathError("listeners", "expected an array with at least one listener");
  }
  std::vector<ListenerConfig> out;
  for (size_t i = 0; i < listeners.size(); ++i) {
    const std::string path = Element("listeners", i);
    absl::StatusOr<ListenerConfig> listener = ParseListener(listeners[i], path, read_file);
    if (!listener.ok()) return listener.status();
    const bool duplicate = std::any_of(out.begin(), out.end(), [&](const ListenerConfig& other) {
      return other.address == listener->address;
    });
    if (duplicate) {
      return PathError(Child(path, "address"),
                       absl::StrCat("\"", listener->address, "\" is listed twice"));
    }
    out.push_back(*std::move(listener));
  }
  return out;
}

}  // namespace agentauth
