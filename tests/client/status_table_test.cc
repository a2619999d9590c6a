#include "client/cli/status_table.h"

#include <string>

#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "agentauth/v1/token_service.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace agentauth::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

const absl::Time kNow = absl::FromUnixSeconds(1767225600);  // 2026-01-01T00:00:00Z

google::protobuf::Timestamp ToProto(absl::Time time) {
  google::protobuf::Timestamp timestamp;
  timestamp.set_seconds(absl::ToUnixSeconds(time));
  return timestamp;
}

v1::GetStatusResponse ResponseWith(const v1::ClientStatus& client) {
  v1::GetStatusResponse response;
  response.set_server_version("1.2.3");
  *response.mutable_start_time() = ToProto(kNow - absl::Hours(2));
  *response.add_clients() = client;
  return response;
}

// The row of the first client: the fourth line, after the header line, a blank and headings.
std::string FirstRow(const std::string& table) {
  std::vector<std::string> lines = absl::StrSplit(table, '\n');
  return lines.size() > 3 ? lines[3] : "";
}

TEST(StatusTableTest, ShowsServerLineThenAlignedColumnsOfEveryClientInOrder) {
  v1::GetStatusResponse response;
  response.set_server_version("1.2.3");
  *response.mutable_start_time() = ToProto(kNow - absl::Hours(2));
  v1::ClientStatus& reports = *response.add_clients();
  reports.set_name("reports");
  reports.set_state(v1::CLIENT_STATE_OK);
  reports.set_is_authorized(true);
  *reports.mutable_expires_at() = ToProto(kNow + absl::Minutes(59) + absl::Seconds(12));
  *reports.mutable_last_refresh() = ToProto(kNow - absl::Seconds(48));
  v1::ClientStatus& billing = *response.add_clients();
  billing.set_name("billing-exporter");
  billing.set_state(v1::CLIENT_STATE_FAILING);
  billing.set_consecutive_failures(3);
  billing.set_last_error("FAILED_PRECONDITION: invalid_client");

  const std::string table = FormatStatusTable(response, kNow);

  EXPECT_EQ(table,
            "server version 1.2.3, started 2025-12-31T22:00:00Z\n"
            "\n"
            "NAME              STATE    AUTHORIZED  EXPIRES IN  LAST REFRESH          FAILURES  "
            "LAST ERROR\n"
            "reports           OK       yes         59m12s      2025-12-31T23:59:12Z  0         "
            "-\n"
            "billing-exporter  FAILING  no          -           -                     3         "
            "FAILED_PRECONDITION: invalid_client\n");
}

TEST(StatusTableTest, EmptyResponseStillShowsTheHeadings) {
  const std::string table = FormatStatusTable(v1::GetStatusResponse(), kNow);

  EXPECT_EQ(table,
            "server version -, started -\n"
            "\n"
            "NAME  STATE  AUTHORIZED  EXPIRES IN  LAST REFRESH  FAILURES  LAST ERROR\n");
}

TEST(StatusTableTest, EveryStateIsShownWithoutItsPrefix) {
  for (const auto& [state, name] : std::vector<std::pair<v1::ClientState, std::string>>{
           {v1::CLIENT_STATE_IDLE, "IDLE"},
           {v1::CLIENT_STATE_OK, "OK"},
           {v1::CLIENT_STATE_REFRESHING, "REFRESHING"},
           {v1::CLIENT_STATE_DEGRADED, "DEGRADED"},
           {v1::CLIENT_STATE_FAILING, "FAILING"},
           {v1::CLIENT_STATE_UNSPECIFIED, "UNSPECIFIED"}}) {
    v1::ClientStatus client;
    client.set_name("c");
    client.set_state(state);

    EXPECT_THAT(FirstRow(FormatStatusTable(ResponseWith(client), kNow)),
                MatchesRegex("c +" + name + " .*"));
  }
}

TEST(StatusTableTest, StateUnknownToThisBuildIsShownByNumber) {
  v1::ClientStatus client;
  client.set_name("c");
  client.set_state(static_cast<v1::ClientState>(42));

  EXPECT_THAT(FirstRow(FormatStatusTable(ResponseWith(client), kNow)), MatchesRegex("c +\\?42 .*"));
}

TEST(StatusTableTest, TokenPastItsExpiryShowsExpired) {
  v1::ClientStatus client;
  client.set_name("c");
  *client.mutable_expires_at() = ToProto(kNow - absl::Seconds(1));

  EXPECT_THAT(FirstRow(FormatStatusTable(ResponseWith(client), kNow)), HasSubstr(" expired "));
}

TEST(StatusTableTest, LongLastErrorIsCutWithAnEllipsis) {
  v1::ClientStatus client;
  client.set_name("c");
  client.set_last_error(std::string(100, 'e'));

  const std::string row = FirstRow(FormatStatusTable(ResponseWith(client), kNow));

  EXPECT_THAT(row, HasSubstr(std::string(kMaxErrorWidth - 3, 'e') + "...")) << row;
  EXPECT_THAT(row, Not(HasSubstr(std::string(kMaxErrorWidth - 2, 'e')))) << row;
}

TEST(StatusTableTest, MultiLineLastErrorStaysOnItsRow) {
  v1::ClientStatus client;
  client.set_name("c");
  client.set_last_error("invalid_client:\nbad\tsecret");

  const std::string table = FormatStatusTable(ResponseWith(client), kNow);

  EXPECT_THAT(FirstRow(table), HasSubstr("invalid_client: bad secret"));
}

TEST(StatusTableTest, LastErrorIsNotCutInsideAUtf8Character) {
  v1::ClientStatus client;
  client.set_name("c");
  // 'é' is two bytes, so the cut at byte 57 would fall inside the 29th one.
  std::string error;
  for (int i = 0; i < 40; ++i) error += "\xC3\xA9";
  client.set_last_error(error);

  const std::string row = FirstRow(FormatStatusTable(ResponseWith(client), kNow));

  EXPECT_THAT(row, HasSubstr(error.substr(0, 56) + "..."));
}

TEST(StatusTableTest, RemainingTimeIsReadable) {
  EXPECT_EQ(FormatRemaining(absl::Milliseconds(400)), "<1s");
  EXPECT_EQ(FormatRemaining(absl::Seconds(45)), "45s");
  EXPECT_EQ(FormatRemaining(absl::Minutes(59) + absl::Seconds(12)), "59m12s");
  EXPECT_EQ(FormatRemaining(absl::Hours(1) + absl::Seconds(5)), "1h0m5s");
  EXPECT_EQ(FormatRemaining(absl::Hours(51) + absl::Minutes(30)), "2d3h");
}

TEST(StatusTableTest, RemainingTimeIsTruncatedToTheSecond) {
  EXPECT_EQ(FormatRemaining(absl::Seconds(59) + absl::Milliseconds(999)), "59s");
}

}  // namespace
}  // namespace agentauth::cli
