// JWT client assertions for the token endpoint (RFC 7523 section 2.2 and 3, OpenID Connect Core
// section 9): client_secret_jwt signs with HS256 under the client secret, private_key_jwt with
// the client's private key.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/common/random.h"
#include "server/config/config.h"

namespace agentauth {

// RFC 7523 2.2: the value of client_assertion_type.
inline constexpr char kJwtBearerAssertionType[] =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

// How long an assertion is valid: long enough for one request and some clock skew, short
// enough that a captured one is soon useless (providers also refuse a replayed jti).
inline constexpr absl::Duration kAssertionLifetime = absl::Seconds(60);

// What the claims of one assertion are made of.
struct AssertionClaims {
  std::string client_id;  // iss and sub.
  std::string audience;   // aud: the token endpoint URL.
  absl::Time issued_at;   // iat; exp is kAssertionLifetime later.
  std::string jwt_id;     // jti: unique per assertion.
};

// 128 random bits from `random` as 32 lower-case hex digits, for `jti`. The jti only has to be
// unique (providers refuse a replay); the signature, not the jti, makes the assertion
// unforgeable, so a seeded generator (SystemRandom) is good enough.
std::string NewJwtId(Random& random);

// The compact JWS of `claims` for `method`, which must be kClientSecretJwt (HS256 under
// client.client_secret) or kPrivateKeyJwt (client.signing_algorithm with client.private_key_pem,
// header `kid` = client.key_id when set).
//
// Errors: FAILED_PRECONDITION when the method is another one or its credential is missing;
// INVALID_ARGUMENT or INTERNAL from signing (the message never holds the key).
absl::StatusOr<std::string> SignClientAssertion(const ClientConfig& client, AuthMethod method,
                                                const AssertionClaims& claims);

}  // namespace agentauth
