// JSON Web Key Sets (RFC 7517) and JWS signature checks (RFC 7515) for RS256 and ES256, with
// OpenSSL: what verifying a Kubernetes service account token needs, nothing more.
#pragma once

#include <openssl/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace agentauth {

// One public key of a set. Immutable after parsing; shareable between threads.
class JsonWebKey {
 public:
  ~JsonWebKey();
  JsonWebKey(const JsonWebKey&) = delete;
  JsonWebKey& operator=(const JsonWebKey&) = delete;

  const std::string& kid() const { return kid_; }
  // "RS256" for an RSA key, "ES256" for a P-256 key.
  const std::string& algorithm() const { return algorithm_; }

  // Whether `signature` (raw JWS bytes: PKCS#1 v1.5 for RS256, r||s for ES256) signs
  // `signing_input` with this key.
  bool Verifies(absl::string_view signing_input, absl::string_view signature) const;

 private:
  friend absl::StatusOr<std::vector<std::shared_ptr<const JsonWebKey>>> ParseJwks(
      absl::string_view json);
  JsonWebKey() = default;

  std::string kid_;
  std::string algorithm_;
  EVP_PKEY* key_ = nullptr;
};

using JwksKeys = std::vector<std::shared_ptr<const JsonWebKey>>;

// The usable keys of a JWKS document: RSA keys of at least 2048 bits and EC P-256 keys meant
// for signatures; other keys (encryption keys, other curves) are skipped. INVALID_ARGUMENT
// when the document is not a JWKS or holds no usable key.
absl::StatusOr<JwksKeys> ParseJwks(absl::string_view json);

}  // namespace agentauth
