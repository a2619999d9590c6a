// Private keys made in memory for a test (OpenSSL), and the JWS checks the tests of client
// assertions need. No key material is committed; each run makes its own.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace agentauth::testing {

// A new RSA private key of `bits` bits, PKCS#8 PEM.
std::string NewRsaKeyPem(int bits = 2048);
// A new EC private key on `curve` ("P-256", "P-384"), PKCS#8 PEM.
std::string NewEcKeyPem(const std::string& curve = "P-256");
// The public half of a PEM private key, SubjectPublicKeyInfo PEM. Empty when it does not parse.
std::string PublicKeyPem(absl::string_view private_key_pem);

// Whether `signature` (JOSE form: raw bytes; ES256 as r || s) is a valid `algorithm` ("RS256",
// "PS256", "ES256") signature of `signing_input` under the PEM public key.
bool VerifyJws(absl::string_view public_key_pem, absl::string_view algorithm,
               absl::string_view signing_input, absl::string_view signature);

}  // namespace agentauth::testing
