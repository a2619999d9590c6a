#include "server/common/fingerprint.h"

#include <openssl/sha.h>

#include "absl/strings/escaping.h"

namespace agentauth {

std::string Fingerprint(absl::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), 6));
}

}  // namespace agentauth
