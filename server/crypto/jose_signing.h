// Private keys from PEM and the JOSE signatures made with them (RFC 7518 section 3), over
// OpenSSL. Nothing here keeps a key: every call parses the PEM it is given and frees it again.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace agentauth {

// The JWS algorithms agentauth signs client assertions with.
enum class SigningAlgorithm {
  kRs256,  // RSASSA-PKCS1-v1_5 with SHA-256.
  kPs256,  // RSASSA-PSS with SHA-256, MGF1 SHA-256, salt of 32 bytes.
  kEs256,  // ECDSA on P-256 with SHA-256; the signature is r || s, 64 bytes.
};
// "RS256", "PS256", "ES256".
absl::string_view SigningAlgorithmName(SigningAlgorithm algorithm);

struct PrivateKeyInfo {
  enum class Type { kRsa, kEcP256 };
  Type type = Type::kRsa;
  int bits = 0;
  // RS256 for RSA, ES256 for EC.
  SigningAlgorithm default_algorithm = SigningAlgorithm::kRs256;
};

// Parses a PEM private key (PKCS#8 or the traditional RSA / EC forms, not encrypted).
// INVALID_ARGUMENT when it is not one, is encrypted, is RSA below 2048 bits, or EC on another
// curve than P-256. The message never quotes the key.
absl::StatusOr<PrivateKeyInfo> DescribePrivateKey(absl::string_view pem);

// OK when `algorithm` can be used with the key; else INVALID_ARGUMENT naming both.
absl::Status CheckAlgorithmFitsKey(SigningAlgorithm algorithm, const PrivateKeyInfo& key);

// Parses a PEM certificate (the first of a chain) and checks that `key_pem` is its private key.
// INVALID_ARGUMENT when either cannot be parsed or they do not belong together.
absl::Status CheckCertificateMatchesKey(absl::string_view certificate_pem,
                                        absl::string_view key_pem);

// The JWS signature over `signing_input` with the PEM key, in the form JOSE wants (ES256:
// r || s, not DER). INVALID_ARGUMENT when the key does not parse or fit `algorithm`; INTERNAL
// when OpenSSL fails to sign.
absl::StatusOr<std::string> SignJws(absl::string_view key_pem, SigningAlgorithm algorithm,
                                    absl::string_view signing_input);

// HMAC-SHA-256 of `data` under `key` (HS256).
std::string HmacSha256(absl::string_view key, absl::string_view data);

}  // namespace agentauth
