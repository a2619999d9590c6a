#include "server/app/tls_files.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "absl/strings/str_cat.h"

namespace agentauth {
namespace {

absl::Status FileError(const ListenerConfig& listener, absl::string_view file,
                       absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat("listener ", listener.address, ": ", file, " ", problem));
}

X509* ReadCertificate(const std::string& path) {
  BIO* file = BIO_new_file(path.c_str(), "r");
  if (file == nullptr) return nullptr;
  X509* certificate = PEM_read_bio_X509(file, nullptr, nullptr, nullptr);
  BIO_free(file);
  return certificate;
}

EVP_PKEY* ReadPrivateKey(const std::string& path) {
  BIO* file = BIO_new_file(path.c_str(), "r");
  if (file == nullptr) return nullptr;
  EVP_PKEY* key = PEM_read_bio_PrivateKey(file, nullptr, nullptr, nullptr);
  BIO_free(file);
  return key;
}

}  // namespace

absl::Status CheckListenerTlsFiles(const ListenerConfig& listener) {
  if (!listener.tls) return absl::OkStatus();
  const ListenerTlsConfig& tls = *listener.tls;

  X509* certificate = ReadCertificate(tls.cert_file);
  if (certificate == nullptr) {
    return FileError(listener, tls.cert_file, "holds no PEM certificate");
  }
  EVP_PKEY* key = ReadPrivateKey(tls.key_file);
  const bool matches = key != nullptr && X509_check_private_key(certificate, key) == 1;
  EVP_PKEY_free(key);
  X509_free(certificate);
  if (key == nullptr) {
    return FileError(listener, tls.key_file, "holds no unencrypted PEM private key");
  }
  if (!matches) {
    return FileError(listener, tls.key_file,
                     absl::StrCat("is not the private key of the certificate in ", tls.cert_file));
  }

  if (!tls.client_ca_file.empty()) {
    X509* ca = ReadCertificate(tls.client_ca_file);
    if (ca == nullptr) return FileError(listener, tls.client_ca_file, "holds no PEM certificate");
    X509_free(ca);
  }
  return absl::OkStatus();
}

}  // namespace agentauth
