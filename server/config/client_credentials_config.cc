#include "server/config/client_credentials_config.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include "server/common/status_macros.h"
#include "server/config/json_fields.h"
#include "server/crypto/jose_signing.h"

namespace agentauth {
namespace {

using config_json::Json;
using config_json::PathError;

// A string setting of the client, else of "defaults", with the path it was written at.
struct Setting {
  std::optional<std::string> value;
  std::string path;
  bool from_client = false;
};

absl::StatusOr<Setting> ReadSetting(const Json& client, absl::string_view path,
                                    const Json* defaults, absl::string_view key) {
  Setting setting;
  const Json* source = nullptr;
  if (const auto found = client.find(key); found != client.end()) {
    source = &*found;
    setting.path = absl::StrCat(path, ".", key);
    setting.from_client = true;
  } else if (defaults != nullptr && defaults->contains(key)) {
    source = &defaults->at(std::string(key));
    setting.path = absl::StrCat("defaults.", key);
  }
  if (source == nullptr) return setting;
  if (!source->is_string() || source->get<std::string>().empty()) {
    return PathError(setting.path, "expected a non-empty string");
  }
  setting.value = source->get<std::string>();
  return setting;
}

absl::StatusOr<SigningAlgorithm> ParseAlgorithm(const Setting& setting) {
  if (*setting.value == "RS256") return SigningAlgorithm::kRs256;
  if (*setting.value == "PS256") return SigningAlgorithm::kPs256;
  if (*setting.value == "ES256") return SigningAlgorithm::kEs256;
  return PathError(setting.path,
                   absl::StrCat("\"", *setting.value, "\" is not one of RS256, PS256 or ES256"));
}

// `message` after `where` (a JSON path), or alone when `where` is empty.
absl::Status Prefixed(absl::string_view where, absl::string_view message) {
  return where.empty() ? absl::InvalidArgumentError(message) : PathError(where, message);
}

// The certificate file (PEM, public: no permission check) and its key, which must match. Errors
// are prefixed with `cert_where` or `key_where`, whichever file is at fault.
absl::Status ReadCertificatePair(const SecretSources& sources, const std::string& cert_file,
                                 const std::string& key_file, absl::string_view cert_where,
                                 absl::string_view key_where, std::string& cert_pem,
                                 SecretString& key_pem) {
  absl::StatusOr<std::string> certificate = sources.read_file(cert_file);
  if (!certificate.ok()) return Prefixed(cert_where, certificate.status().message());
  absl::StatusOr<std::string> key = ReadPrivateKeyFile(sources, key_file);
  if (!key.ok()) return Prefixed(key_where, key.status().message());
  SecretString held_key(*std::move(key));
  if (absl::Status matches = CheckCertificateMatchesKey(*certificate, held_key.value());
      !matches.ok()) {
    return Prefixed(cert_where, absl::StrCat("\"", cert_file, "\" with key \"", key_file,
                                             "\": ", matches.message()));
  }
  cert_pem = *std::move(certificate);
  key_pem = std::move(held_key);
  return absl::OkStatus();
}

// private_key_file with its algorithm (default from the key's type) and key id.
absl::Status ReadKeySettings(const Setting& key_file, const Setting& algorithm,
                             const Setting& key_id, const SecretSources& sources,
                             ClientConfig& out) {
  if (!key_file.value) {
    // Set in "defaults" they may be meant for other clients; set on this client they are a slip.
    for (const Setting* orphan : {&algorithm, &key_id}) {
      if (orphan->value && orphan->from_client) {
        return PathError(orphan->path, "only used with private_key_file, which is not set");
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> pem = ReadPrivateKeyFile(sources, *key_file.value);
  if (!pem.ok()) return PathError(key_file.path, pem.status().message());
  const PrivateKeyInfo info = *DescribePrivateKey(*pem);
  out.private_key_pem = SecretString(*std::move(pem));
  out.private_key_file = *key_file.value;
  out.key_id = key_id.value.value_or("");

  out.signing_algorithm = info.default_algorithm;
  if (!algorithm.value) return absl::OkStatus();
  absl::StatusOr<SigningAlgorithm> chosen = ParseAlgorithm(algorithm);
  if (!chosen.ok()) return chosen.status();
  if (absl::Status fits = CheckAlgorithmFitsKey(*chosen, info); !fits.ok()) {
    return PathError(algorithm.path, fits.message());
  }
  out.signing_algorithm = *chosen;
  return absl::OkStatus();
}

// tls_client_cert_file and tls_client_key_file: both or neither.
absl::Status ReadCertificateSettings(const Setting& cert_file, const Setting& cert_key,
                                     const SecretSources& sources, ClientConfig& out) {
  if (cert_file.value.has_value() != cert_key.value.has_value()) {
    const Setting& set = cert_file.value ? cert_file : cert_key;
    return PathError(set.path, "set both tls_client_cert_file and tls_client_key_file");
  }
  if (!cert_file.value) return absl::OkStatus();

  AGENTAUTH_RETURN_IF_ERROR(ReadCertificatePair(sources, *cert_file.value, *cert_key.value,
                                                cert_file.path, cert_key.path,
                                                out.tls_client_cert_pem, out.tls_client_key_pem));
  out.tls_client_cert_file = *cert_file.value;
  out.tls_client_key_file = *cert_key.value;
  return absl::OkStatus();
}

// Where auth_method was written, for messages about it.
std::string AuthMethodPath(const Json& client, absl::string_view path) {
  return client.contains("auth_method") ? absl::StrCat(path, ".auth_method")
                                        : std::string("defaults.auth_method");
}

absl::Status CheckMethodHasCredential(const Json& client, absl::string_view path,
                                      const ClientConfig& out) {
  const bool secret = !out.client_secret.empty();
  const bool key = !out.private_key_pem.empty();
  const bool certificate = !out.tls_client_cert_pem.empty();
  if (!secret && !key && !certificate) {
    return PathError(path,
                     "no credentials: set client_secret_file or client_secret_env, or "
                     "private_key_file (private_key_jwt), or tls_client_cert_file and "
                     "tls_client_key_file (tls_client_auth)");
  }

  std::string missing;
  switch (out.auth_method) {
    case AuthMethod::kAutomatic:
      return absl::OkStatus();
    case AuthMethod::kClientSecretBasic:
    case AuthMethod::kClientSecretPost:
    case AuthMethod::kClientSecretJwt:
      if (!secret) missing = "a client secret (client_secret_file or client_secret_env)";
      break;
    case AuthMethod::kPrivateKeyJwt:
      if (!key) missing = "a private key (private_key_file)";
      break;
    case AuthMethod::kTlsClientAuth:
      if (!certificate) missing = "a client certificate (tls_client_cert_file and _key_file)";
      break;
  }
  if (missing.empty()) return absl::OkStatus();
  return PathError(AuthMethodPath(client, path),
                   absl::StrCat(AuthMethodName(out.auth_method), " needs ", missing,
                                ", which client \"", out.name, "\" does not have"));
}

std::string FileMode(unsigned int mode) { return absl::StrFormat("%04o", mode & 07777); }

}  // namespace

absl::Status CheckSecretFilePermissions(const SecretSources& sources, const std::string& path,
                                        SecretFileKind kind) {
  if (!sources.file_access) return absl::OkStatus();
  absl::StatusOr<FileAccess> access = sources.file_access(path);
  if (!access.ok()) return absl::InvalidArgumentError(access.status().message());

  const unsigned int mode = access->mode;
  if (kind == SecretFileKind::kClientSecret) {
    if ((mode & 0006) == 0) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", path, "\" has mode ", FileMode(mode),
        ": every user of the machine can read or change the client secret; chmod 600 it (or "
        "640 for a group this process belongs to)"));
  }

  const bool group_may_read_safely = (mode & 0040) == 0 || access->group_is_own;
  if ((mode & 0007) == 0 && (mode & 0020) == 0 && group_may_read_safely) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "\"", path, "\" has mode ", FileMode(mode),
      ": users other than this process's own can reach the private key; chmod 600 it (or 440 "
      "when its group is one this process belongs to, as with a Kubernetes fsGroup)"));
}

absl::StatusOr<std::string> ReadPrivateKeyFile(const SecretSources& sources,
                                               const std::string& path) {
  // Read first, so that a missing file is reported as such; a refused key is wiped at once by
  // moving it into a SecretString that goes out of scope.
  absl::StatusOr<std::string> pem = sources.read_file(path);
  if (!pem.ok()) return absl::InvalidArgumentError(pem.status().message());
  if (absl::Status permissions =
          CheckSecretFilePermissions(sources, path, SecretFileKind::kPrivateKey);
      !permissions.ok()) {
    SecretString wiped(*std::move(pem));
    return permissions;
  }
  absl::StatusOr<PrivateKeyInfo> info = DescribePrivateKey(*pem);
  if (!info.ok()) {
    SecretString wiped(*std::move(pem));
    return absl::InvalidArgumentError(absl::StrCat("\"", path, "\": ", info.status().message()));
  }
  return pem;
}

absl::Status ReadClientCredentials(const Json& client, absl::string_view path, const Json* defaults,
                                   const SecretSources& sources, ClientConfig& out) {
  absl::StatusOr<Setting> key_file = ReadSetting(client, path, defaults, "private_key_file");
  absl::StatusOr<Setting> algorithm = ReadSetting(client, path, defaults, "signing_algorithm");
  absl::StatusOr<Setting> key_id = ReadSetting(client, path, defaults, "key_id");
  absl::StatusOr<Setting> cert_file = ReadSetting(client, path, defaults, "tls_client_cert_file");
  absl::StatusOr<Setting> cert_key = ReadSetting(client, path, defaults, "tls_client_key_file");
  for (const auto* setting : {&key_file, &algorithm, &key_id, &cert_file, &cert_key}) {
    if (!setting->ok()) return setting->status();
  }

  AGENTAUTH_RETURN_IF_ERROR(ReadKeySettings(*key_file, *algorithm, *key_id, sources, out));
  AGENTAUTH_RETURN_IF_ERROR(ReadCertificateSettings(*cert_file, *cert_key, sources, out));

  AGENTAUTH_RETURN_IF_ERROR(CheckMethodHasCredential(client, path, out));
  out.credential_fingerprint = CredentialFingerprint(out);
  return absl::OkStatus();
}

absl::Status RereadCredentialFiles(const SecretSources& sources, ClientConfig& client) {
  ClientConfig updated = client;
  if (!updated.secret_file.empty()) {
    absl::StatusOr<std::string> secret = ReadSecretFile(sources, updated.secret_file);
    if (!secret.ok()) return secret.status();
    updated.client_secret = SecretString(*std::move(secret));
  }
  if (!updated.private_key_file.empty()) {
    absl::StatusOr<std::string> pem = ReadPrivateKeyFile(sources, updated.private_key_file);
    if (!pem.ok()) return pem.status();
    const PrivateKeyInfo info = *DescribePrivateKey(*pem);
    // The configured algorithm stays; a rotation to another key type is a config change.
    if (absl::Status fits = CheckAlgorithmFitsKey(updated.signing_algorithm, info); !fits.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", updated.private_key_file, "\": ", fits.message()));
    }
    updated.private_key_pem = SecretString(*std::move(pem));
  }
  if (!updated.tls_client_cert_file.empty()) {
    AGENTAUTH_RETURN_IF_ERROR(
        ReadCertificatePair(sources, updated.tls_client_cert_file, updated.tls_client_key_file, "",
                            "", updated.tls_client_cert_pem, updated.tls_client_key_pem));
  }
  updated.credential_fingerprint = CredentialFingerprint(updated);
  client = std::move(updated);
  return absl::OkStatus();
}

bool SameCredentials(const ClientConfig& a, const ClientConfig& b) {
  return a.client_secret == b.client_secret && a.private_key_pem == b.private_key_pem &&
         a.tls_client_cert_pem == b.tls_client_cert_pem &&
         a.tls_client_key_pem == b.tls_client_key_pem;
}

}  // namespace agentauth
