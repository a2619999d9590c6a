#include "server/crypto/jose_signing.h"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"

namespace agentauth {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct X509Free {
  void operator()(X509* certificate) const { X509_free(certificate); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* signature) const { ECDSA_SIG_free(signature); }
};

using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

// A key's size on P-256 in bytes: r and s are each padded to this in a JOSE signature.
constexpr int kP256CoordinateBytes = 32;

// Refuses to prompt for a passphrase: an encrypted key fails instead of blocking start-up on the
// terminal.
// TODO(keys): passphrase-protected keys (a passphrase file beside the key) are not supported;
// the passphrase would sit next to the key with the same permissions, so it buys little.
int NoPassphrase(char* /*buffer*/, int /*size*/, int /*rwflag*/, void* /*user*/) { return -1; }

std::unique_ptr<BIO, BioFree> MemoryBio(absl::string_view data) {
  return std::unique_ptr<BIO, BioFree>(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

absl::StatusOr<Pkey> ParsePrivateKey(absl::string_view pem) {
  auto bio = MemoryBio(pem);
  Pkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  // OpenSSL's error queue would otherwise leak into the next, unrelated OpenSSL call's report.
  ERR_clear_error();
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        "not an unencrypted PEM private key (expected \"-----BEGIN PRIVATE KEY-----\", RSA or EC "
        "P-256)");
  }
  return key;
}

absl::StatusOr<PrivateKeyInfo> Describe(EVP_PKEY* key) {
  PrivateKeyInfo info;
  info.bits = EVP_PKEY_get_bits(key);
  if (EVP_PKEY_is_a(key, "RSA")) {
    if (info.bits < 2048) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the RSA key has ", info.bits, " bits; providers require at least 2048 for RS256/PS256"));
    }
    info.type = PrivateKeyInfo::Type::kRsa;
    info.default_algorithm = SigningAlgorithm::kRs256;
    return info;
  }
  if (EVP_PKEY_is_a(key, "EC")) {
    char curve[64] = {0};
    size_t length = 0;
    EVP_PKEY_get_utf8_string_param(key, "group", curve, sizeof(curve), &length);
    if (std::string(curve) != SN_X9_62_prime256v1) {
      return absl::InvalidArgumentError(
          absl::StrCat("the EC key is on curve \"", curve, "\"; ES256 needs P-256 (prime256v1)"));
    }
    info.type = PrivateKeyInfo::Type::kEcP256;
    info.default_algorithm = SigningAlgorithm::kEs256;
    return info;
  }
  return absl::InvalidArgumentError("the key is neither RSA nor EC P-256");
}

// DER ECDSA-Sig-Value (what OpenSSL makes) to r || s, each left-padded to 32 bytes (RFC 7518
// 3.4): a provider rejects the DER form.
absl::StatusOr<std::string> DerToJoseEcdsa(const std::vector<unsigned char>& der) {
  const unsigned char* cursor = der.data();
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> signature(
      d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(der.size())));
  if (signature == nullptr)
    return absl::InternalError("OpenSSL made an unreadable ECDSA signature");

  std::string jose(2 * kP256CoordinateBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(jose.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(signature.get()), out, kP256CoordinateBytes) < 0 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(signature.get()), out + kP256CoordinateBytes,
                   kP256CoordinateBytes) < 0) {
    return absl::InternalError("an ECDSA signature value does not fit 32 bytes");
  }
  return jose;
}

}  // namespace

absl::string_view SigningAlgorithmName(SigningAlgorithm algorithm) {
  switch (algorithm) {
    case SigningAlgorithm::kRs256:
      return "RS256";
    case SigningAlgorithm::kPs256:
      return "PS256";
    case SigningAlgorithm::kEs256:
      return "ES256";
  }
  return "unknown";
}

absl::StatusOr<PrivateKeyInfo> DescribePrivateKey(absl::string_view pem) {
  absl::StatusOr<Pkey> key = ParsePrivateKey(pem);
  if (!key.ok()) return key.status();
  return Describe(key->get());
}

absl::Status CheckAlgorithmFitsKey(SigningAlgorithm algorithm, const PrivateKeyInfo& key) {
  const bool rsa_algorithm = algorithm != SigningAlgorithm::kEs256;
  const bool rsa_key = key.type == PrivateKeyInfo::Type::kRsa;
  if (rsa_algorithm == rsa_key) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      SigningAlgorithmName(algorithm), " needs ", rsa_algorithm ? "an RSA" : "an EC P-256",
      " key, but the key is ", rsa_key ? "RSA" : "EC P-256"));
}

absl::Status CheckCertificateMatchesKey(absl::string_view certificate_pem,
                                        absl::string_view key_pem) {
  auto bio = MemoryBio(certificate_pem);
  std::unique_ptr<X509, X509Free> certificate(
      PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
  ERR_clear_error();
  if (certificate == nullptr) {
    return absl::InvalidArgumentError(
        "not a PEM certificate (expected \"-----BEGIN CERTIFICATE-----\")");
  }
  absl::StatusOr<Pkey> key = ParsePrivateKey(key_pem);
  if (!key.ok()) return key.status();
  const bool matches = X509_check_private_key(certificate.get(), key->get()) == 1;
  ERR_clear_error();
  if (!matches) {
    return absl::InvalidArgumentError("the private key does not belong to the certificate");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SignJws(absl::string_view key_pem, SigningAlgorithm algorithm,
                                    absl::string_view signing_input) {
  absl::StatusOr<Pkey> key = ParsePrivateKey(key_pem);
  if (!key.ok()) return key.status();
  absl::StatusOr<PrivateKeyInfo> info = Describe(key->get());
  if (!info.ok()) return info.status();
  if (absl::Status fits = CheckAlgorithmFitsKey(algorithm, *info); !fits.ok()) return fits;

  std::unique_ptr<EVP_MD_CTX, MdCtxFree> context(EVP_MD_CTX_new());
  EVP_PKEY_CTX* key_context = nullptr;  // Owned by `context`.
  bool ok = context != nullptr &&
            EVP_DigestSignInit(context.get(), &key_context, EVP_sha256(), nullptr, key->get()) == 1;
  if (ok && algorithm == SigningAlgorithm::kPs256) {
    // RFC 7518 3.5: the salt is as long as the hash, MGF1 uses the same hash.
    ok = EVP_PKEY_CTX_set_rsa_padding(key_context, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(key_context, RSA_PSS_SALTLEN_DIGEST) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(key_context, EVP_sha256()) == 1;
  }
  const auto* input = reinterpret_cast<const unsigned char*>(signing_input.data());
  size_t length = 0;
  ok = ok && EVP_DigestSign(context.get(), nullptr, &length, input, signing_input.size()) == 1;
  std::vector<unsigned char> signature(length);
  ok = ok &&
       EVP_DigestSign(context.get(), signature.data(), &length, input, signing_input.size()) == 1;
  ERR_clear_error();
  if (!ok) {
    return absl::InternalError(
        absl::StrCat("OpenSSL could not sign with ", SigningAlgorithmName(algorithm)));
  }
  signature.resize(length);

  if (algorithm == SigningAlgorithm::kEs256) return DerToJoseEcdsa(signature);
  return std::string(signature.begin(), signature.end());
}

std::string HmacSha256(absl::string_view key, absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

}  // namespace agentauth
