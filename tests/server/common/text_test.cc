#include "server/common/text.h"

#include "gtest/gtest.h"
#include "tests/testing/status_printing.h"

namespace agentauth {
namespace {

TEST(SanitizeForMessageTest, ControlCharactersAreEscaped) {
  EXPECT_EQ(SanitizeForMessage(std::string("a\r\nb\tc\0d", 8), 100), "a\\r\\nb\\tc\\x00d");
}

TEST(SanitizeForMessageTest, Utf8IsKeptAndBrokenBytesEscaped) {
  EXPECT_EQ(SanitizeForMessage("caf\xc3\xa9 \xff", 100), "caf\xc3\xa9 \\xff");
}

TEST(SanitizeForMessageTest, RunsOfSpacesCollapse) {
  EXPECT_EQ(SanitizeForMessage("<p>    Bad     Gateway</p>", 100), "<p> Bad Gateway</p>");
}

TEST(SanitizeForMessageTest, LongTextIsCutWithAMarkerNeverInsideACharacter) {
  EXPECT_EQ(SanitizeForMessage(std::string(50, 'x'), 10), "xxxxxxxxxx...");
  EXPECT_EQ(SanitizeForMessage("abc\xc3\xa9", 4), "abc...");
}

}  // namespace
}  // namespace agentauth
