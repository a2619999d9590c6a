#include "tests/testing/test_keys.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <memory>
#include <vector>

namespace agentauth::testing {
namespace {

struct Free {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
  void operator()(BIO* bio) const { BIO_free(bio); }
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
  void operator()(ECDSA_SIG* signature) const { ECDSA_SIG_free(signature); }
};

std::string Pkcs8Pem(EVP_PKEY* key) {
  std::unique_ptr<BIO, Free> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

// r || s to the DER form OpenSSL verifies.
std::string JoseToDer(absl::string_view signature) {
  if (signature.size() != 64) return "";
  std::unique_ptr<ECDSA_SIG, Free> ecdsa(ECDSA_SIG_new());
  const auto* bytes = reinterpret_cast<const unsigned char*>(signature.data());
  ECDSA_SIG_set0(ecdsa.get(), BN_bin2bn(bytes, 32, nullptr), BN_bin2bn(bytes + 32, 32, nullptr));
  unsigned char* der = nullptr;
  const int length = i2d_ECDSA_SIG(ecdsa.get(), &der);
  std::string result(reinterpret_cast<const char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  return result;
}

}  // namespace

std::string NewRsaKeyPem(int bits) {
  std::unique_ptr<EVP_PKEY, Free> key(EVP_RSA_gen(static_cast<unsigned int>(bits)));
  return Pkcs8Pem(key.get());
}

std::string NewEcKeyPem(const std::string& curve) {
  std::unique_ptr<EVP_PKEY, Free> key(EVP_EC_gen(curve.c_str()));
  return Pkcs8Pem(key.get());
}

std::string PublicKeyPem(absl::string_view private_key_pem) {
  std::unique_ptr<BIO, Free> in(
      BIO_new_mem_buf(private_key_pem.data(), static_cast<int>(private_key_pem.size())));
  std::unique_ptr<EVP_PKEY, Free> key(PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) return "";
  std::unique_ptr<BIO, Free> out(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(out.get(), key.get());
  char* data = nullptr;
  const long size = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

bool VerifyJws(absl::string_view public_key_pem, absl::string_view algorithm,
               absl::string_view signing_input, absl::string_view signature) {
  std::unique_ptr<BIO, Free> in(
      BIO_new_mem_buf(public_key_pem.data(), static_cast<int>(public_key_pem.size())));
  std::unique_ptr<EVP_PKEY, Free> key(PEM_read_bio_PUBKEY(in.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) return false;

  const std::string raw = algorithm == "ES256" ? JoseToDer(signature) : std::string(signature);
  std::unique_ptr<EVP_MD_CTX, Free> context(EVP_MD_CTX_new());
  EVP_PKEY_CTX* key_context = nullptr;
  if (EVP_DigestVerifyInit(context.get(), &key_context, EVP_sha256(), nullptr, key.get()) != 1) {
    return false;
  }
  if (algorithm == "PS256") {
    EVP_PKEY_CTX_set_rsa_padding(key_context, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(key_context, 32);
    EVP_PKEY_CTX_set_rsa_mgf1_md(key_context, EVP_sha256());
  }
  return EVP_DigestVerify(context.get(), reinterpret_cast<const unsigned char*>(raw.data()),
                          raw.size(), reinterpret_cast<const unsigned char*>(signing_input.data()),
                          signing_input.size()) == 1;
}

}  // namespace agentauth::testing
