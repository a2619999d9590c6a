#include "server/callers/jwks.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace agentauth {
namespace {

using Json = nlohmann::json;

constexpr int kMinRsaBits = 2048;

std::string MemberOrEmpty(const Json& key, const char* name) {
  const auto found = key.find(name);
  return found != key.end() && found->is_string() ? found->get<std::string>() : "";
}

bool DecodeMember(const Json& key, const char* name, std::string& out) {
  const std::string encoded = MemberOrEmpty(key, name);
  return !encoded.empty() && absl::WebSafeBase64Unescape(encoded, &out);
}

EVP_PKEY* KeyFromParams(const char* type, OSSL_PARAM_BLD* builder) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(builder);
  EVP_PKEY_CTX* context = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* key = nullptr;
  if (params == nullptr || context == nullptr || EVP_PKEY_fromdata_init(context) <= 0 ||
      EVP_PKEY_fromdata(context, &key, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
    key = nullptr;
  }
  EVP_PKEY_CTX_free(context);
  OSSL_PARAM_free(params);
  return key;
}

EVP_PKEY* RsaKey(const Json& jwk) {
  std::string n;
  std::string e;
  if (!DecodeMember(jwk, "n", n) || !DecodeMember(jwk, "e", e)) return nullptr;
  BIGNUM* modulus = BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()),
                              static_cast<int>(n.size()), nullptr);
  BIGNUM* exponent = BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()),
                               static_cast<int>(e.size()), nullptr);
  OSSL_PARAM_BLD* builder = OSSL_PARAM_BLD_new();
  EVP_PKEY* key = nullptr;
  if (modulus != nullptr && exponent != nullptr && builder != nullptr &&
      BN_num_bits(modulus) >= kMinRsaBits &&
      OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_N, modulus) == 1 &&
      OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_E, exponent) == 1) {
    key = KeyFromParams("RSA", builder);
  }
  OSSL_PARAM_BLD_free(builder);
  BN_free(modulus);
  BN_free(exponent);
  return key;
}

EVP_PKEY* P256Key(const Json& jwk) {
  std::string x;
  std::string y;
  if (MemberOrEmpty(jwk, "crv") != "P-256" || !DecodeMember(jwk, "x", x) ||
      !DecodeMember(jwk, "y", y) || x.size() != 32 || y.size() != 32) {
    return nullptr;
  }
  const std::string point = absl::StrCat("\x04", x, y);  // SEC 1 uncompressed point.
  OSSL_PARAM_BLD* builder = OSSL_PARAM_BLD_new();
  EVP_PKEY* key = nullptr;
  if (builder != nullptr &&
      OSSL_PARAM_BLD_push_utf8_string(builder, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1 &&
      OSSL_PARAM_BLD_push_octet_string(builder, OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) == 1) {
    key = KeyFromParams("EC", builder);
  }
  OSSL_PARAM_BLD_free(builder);
  return key;
}

// JWS carries an ECDSA signature as r||s (RFC 7518 3.4); OpenSSL wants DER.
std::string EcdsaDer(absl::string_view raw) {
  if (raw.size() != 64) return "";
  ECDSA_SIG* signature = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr);
  std::string der;
  if (signature != nullptr && r != nullptr && s != nullptr && ECDSA_SIG_set0(signature, r, s)) {
    r = s = nullptr;  // Owned by `signature` now.
    unsigned char* buffer = nullptr;
    const int length = i2d_ECDSA_SIG(signature, &buffer);
    if (length > 0) der.assign(reinterpret_cast<char*>(buffer), static_cast<size_t>(length));
    OPENSSL_free(buffer);
  }
  BN_free(r);
  BN_free(s);
  ECDSA_SIG_free(signature);
  return der;
}

}  // namespace

JsonWebKey::~JsonWebKey() { EVP_PKEY_free(key_); }

bool JsonWebKey::Verifies(absl::string_view signing_input, absl::string_view signature) const {
  std::string der;
  if (algorithm_ == "ES256") {
    der = EcdsaDer(signature);
    if (der.empty()) return false;
    signature = der;
  }
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  const bool valid =
      context != nullptr &&
      EVP_DigestVerifyInit(context, nullptr, EVP_sha256(), nullptr, key_) == 1 &&
      EVP_DigestVerify(
          context, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
          reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1;
  EVP_MD_CTX_free(context);
  return valid;
}

absl::StatusOr<JwksKeys> ParseJwks(absl::string_view json) {
  Json document = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!document.is_object() || !document.contains("keys") || !document["keys"].is_array()) {
    return absl::InvalidArgumentError("not a JWKS document (an object with a \"keys\" array)");
  }
  JwksKeys keys;
  for (const Json& jwk : document["keys"]) {
    if (!jwk.is_object()) continue;
    const std::string use = MemberOrEmpty(jwk, "use");
    if (!use.empty() && use != "sig") continue;
    const std::string type = MemberOrEmpty(jwk, "kty");
    const std::string declared = MemberOrEmpty(jwk, "alg");

    auto key = std::shared_ptr<JsonWebKey>(new JsonWebKey());
    key->kid_ = MemberOrEmpty(jwk, "kid");
    if (type == "RSA" && (declared.empty() || declared == "RS256")) {
      key->algorithm_ = "RS256";
      key->key_ = RsaKey(jwk);
    } else if (type == "EC" && (declared.empty() || declared == "ES256")) {
      key->algorithm_ = "ES256";
      key->key_ = P256Key(jwk);
    }
    if (key->key_ != nullptr) keys.push_back(std::move(key));
  }
  if (keys.empty()) {
    return absl::InvalidArgumentError(
        "the JWKS holds no usable signing key (RSA of 2048 bits or more, or EC P-256)");
  }
  return keys;
}

}  // namespace agentauth
