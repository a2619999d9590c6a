#include "tests/testing/test_jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include <cstdlib>
#include <iostream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace agentauth::testing {
namespace {

std::string Base64Url(absl::string_view bytes) {
  std::string encoded;
  absl::WebSafeBase64Escape(bytes, &encoded);
  return encoded;
}

std::string BigNumParam(EVP_PKEY* key, const char* name, int pad_to = 0) {
  BIGNUM* value = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &value) != 1) return "";
  std::string bytes(static_cast<size_t>(pad_to > 0 ? pad_to : BN_num_bytes(value)), '\0');
  BN_bn2binpad(value, reinterpret_cast<unsigned char*>(bytes.data()),
               static_cast<int>(bytes.size()));
  BN_free(value);
  return Base64Url(bytes);
}

// DER ECDSA signature -> the r||s form of JWS (RFC 7518 3.4).
std::string RawEcdsa(const std::string& der) {
  const auto* cursor = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* signature = d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(der.size()));
  std::string raw(64, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(signature), reinterpret_cast<unsigned char*>(raw.data()), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(signature), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
  ECDSA_SIG_free(signature);
  return raw;
}

}  // namespace

TestSigningKey::TestSigningKey(Type type, std::string kid) : kid_(std::move(kid)) {
  if (type == Type::kRsa2048) {
    algorithm_ = "RS256";
    key_ = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
  } else {
    algorithm_ = "ES256";
    key_ = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  }
  if (key_ == nullptr) {
    std::cerr << "TestSigningKey: OpenSSL could not make a key\n";
    std::abort();
  }
}

TestSigningKey::~TestSigningKey() { EVP_PKEY_free(key_); }

nlohmann::json TestSigningKey::PublicJwk() const {
  if (algorithm_ == "RS256") {
    return {{"kty", "RSA"},
            {"kid", kid_},
            {"use", "sig"},
            {"alg", "RS256"},
            {"n", BigNumParam(key_, OSSL_PKEY_PARAM_RSA_N)},
            {"e", BigNumParam(key_, OSSL_PKEY_PARAM_RSA_E)}};
  }
  return {{"kty", "EC"},
          {"kid", kid_},
          {"use", "sig"},
          {"crv", "P-256"},
          {"x", BigNumParam(key_, OSSL_PKEY_PARAM_EC_PUB_X, 32)},
          {"y", BigNumParam(key_, OSSL_PKEY_PARAM_EC_PUB_Y, 32)}};
}

std::string TestSigningKey::Sign(const nlohmann::json& claims,
                                 const nlohmann::json& extra_header) const {
  nlohmann::json header = {{"alg", algorithm_}, {"kid", kid_}, {"typ", "JWT"}};
  header.update(extra_header);
  const std::string signing_input =
      absl::StrCat(Base64Url(header.dump()), ".", Base64Url(claims.dump()));

  EVP_MD_CTX* context = EVP_MD_CTX_new();
  size_t length = 0;
  EVP_DigestSignInit(context, nullptr, EVP_sha256(), nullptr, key_);
  EVP_DigestSign(context, nullptr, &length,
                 reinterpret_cast<const unsigned char*>(signing_input.data()),
                 signing_input.size());
  std::string signature(length, '\0');
  EVP_DigestSign(context, reinterpret_cast<unsigned char*>(signature.data()), &length,
                 reinterpret_cast<const unsigned char*>(signing_input.data()),
                 signing_input.size());
  signature.resize(length);
  EVP_MD_CTX_free(context);
  if (algorithm_ == "ES256") signature = RawEcdsa(signature);
  return absl::StrCat(signing_input, ".", Base64Url(signature));
}

std::string JwksOf(const std::vector<const TestSigningKey*>& keys) {
  nlohmann::json set = {{"keys", nlohmann::json::array()}};
  for (const TestSigningKey* key : keys) set["keys"].push_back(key->PublicJwk());
  return set.dump();
}

nlohmann::json ServiceAccountClaims(const std::string& issuer, const std::string& audience,
                                    const std::string& namespace_name, const std::string& account,
                                    absl::Time now) {
  const int64_t issued = absl::ToUnixSeconds(now);
  return {
      {"iss", issuer},
      {"aud", nlohmann::json::array({audience})},
      {"sub", absl::StrCat("system:serviceaccount:", namespace_name, ":", account)},
      {"iat", issued},
      {"nbf", issued},
      {"exp", issued + 3600},
      {"kubernetes.io",
       {{"namespace", namespace_name}, {"serviceaccount", {{"name", account}, {"uid", "u-1"}}}}}};
}

}  // namespace agentauth::testing
