// The grpc.health.v1 wire encoding of the client library (client/health_check.h). Its calls are
// tested end to end by agentauth_cli_test.cc and the daemon's integration tests.

#include "client/health_check.h"

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace agentauth {
namespace {

using namespace std::string_literals;

// What a successful decoding returns, so that EXPECT_EQ compares StatusOr with StatusOr.
absl::StatusOr<ServingStatus> Decoded(ServingStatus status) { return status; }

TEST(HealthCheckRequestTest, TheWholeServerIsTheEmptyMessage) {
  EXPECT_EQ(EncodeHealthCheckRequest(""), "");
}

TEST(HealthCheckRequestTest, ServiceIsFieldOneLengthDelimited) {
  EXPECT_EQ(EncodeHealthCheckRequest("agentauth.v1.TokenService"),
            "\x0a\x19"
            "agentauth.v1.TokenService");
}

TEST(HealthCheckRequestTest, LengthOfALongNameIsAMultiByteVarint) {
  const std::string service(200, 's');

  EXPECT_EQ(EncodeHealthCheckRequest(service), "\x0a\xc8\x01" + service);
}

TEST(HealthCheckResponseTest, StatusIsReadFromFieldOne) {
  EXPECT_EQ(DecodeHealthCheckResponse("\x08\x01"), Decoded(ServingStatus::kServing));
  EXPECT_EQ(DecodeHealthCheckResponse("\x08\x02"), Decoded(ServingStatus::kNotServing));
  EXPECT_EQ(DecodeHealthCheckResponse("\x08\x03"), Decoded(ServingStatus::kServiceUnknown));
}

TEST(HealthCheckResponseTest, EmptyMessageIsTheDefaultUnknown) {
  EXPECT_EQ(DecodeHealthCheckResponse(""), Decoded(ServingStatus::kUnknown));
}

TEST(HealthCheckResponseTest, FieldsOfANewerVersionAreSkipped) {
  EXPECT_EQ(DecodeHealthCheckResponse("\x12\x03"
                                      "abc\x08\x01\x1d\x00\x00\x00\x00"s),
            Decoded(ServingStatus::kServing));
}

TEST(HealthCheckResponseTest, TruncatedOrMalformedBytesAreAnInternalError) {
  for (const std::string& bytes : {"\x08"s,
                                   "\x12\x05"
                                   "ab"s,
                                   "\x00\x01"s, "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"s}) {
    EXPECT_EQ(DecodeHealthCheckResponse(bytes).status(),
              absl::InternalError("the health check answer is not a HealthCheckResponse"))
        << "bytes of size " << bytes.size();
  }
}

TEST(ServingStatusNameTest, NamesAreThoseOfTheProto) {
  EXPECT_EQ(ServingStatusName(ServingStatus::kUnknown), "UNKNOWN");
  EXPECT_EQ(ServingStatusName(ServingStatus::kServing), "SERVING");
  EXPECT_EQ(ServingStatusName(ServingStatus::kNotServing), "NOT_SERVING");
  EXPECT_EQ(ServingStatusName(ServingStatus::kServiceUnknown), "SERVICE_UNKNOWN");
  EXPECT_EQ(ServingStatusName(static_cast<ServingStatus>(7)), "UNRECOGNIZED(7)");
}

TEST(ServingStatusNameTest, AnUnrecognizedValueFromTheWireKeepsItsNumber) {
  EXPECT_EQ(DecodeHealthCheckResponse("\x08\x07"), Decoded(static_cast<ServingStatus>(7)));
}

}  // namespace
}  // namespace agentauth
