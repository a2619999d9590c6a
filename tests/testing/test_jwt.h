// Signing keys made at test time and the JWTs they sign: Kubernetes service account tokens
// for the caller-authentication tests, RS256 and ES256, with whatever claims a test needs.
#pragma once

#include <openssl/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace agentauth::testing {

class TestSigningKey {
 public:
  enum class Type { kRsa2048, kEcP256 };

  // A fresh key pair. Aborts the test binary if OpenSSL cannot make one.
  TestSigningKey(Type type, std::string kid);
  ~TestSigningKey();
  TestSigningKey(const TestSigningKey&) = delete;
  TestSigningKey& operator=(const TestSigningKey&) = delete;

  // "RS256" or "ES256".
  const std::string& algorithm() const { return algorithm_; }
  const std::string& kid() const { return kid_; }

  // The public key as a JWK object.
  nlohmann::json PublicJwk() const;

  // A compact JWS of `claims` with header {"alg", "kid", "typ": "JWT"} plus `extra_header`.
  std::string Sign(const nlohmann::json& claims,
                   const nlohmann::json& extra_header = nlohmann::json::object()) const;

 private:
  std::string algorithm_;
  std::string kid_;
  EVP_PKEY* key_ = nullptr;
};

// {"keys": [...]} of the given keys' public halves.
std::string JwksOf(const std::vector<const TestSigningKey*>& keys);

// The claims of a projected Kubernetes service account token of `namespace_name`/`account`,
// issued by `issuer` for `audience`, valid from `now` for an hour.
nlohmann::json ServiceAccountClaims(const std::string& issuer, const std::string& audience,
                                    const std::string& namespace_name, const std::string& account,
                                    absl::Time now);

}  // namespace agentauth::testing
