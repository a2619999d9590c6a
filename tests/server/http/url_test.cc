#include "server/http/url.h"

#include "gtest/gtest.h"
#include "tests/testing/status_printing.h"

namespace agentauth {
namespace {

TEST(ParseHttpUrlTest, ReadsSchemeHostAndPath) {
  absl::StatusOr<ParsedUrl> url = ParseHttpUrl("HTTPS://idp.example.test:8443/app/o/a1/");

  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->scheme, "https");
  EXPECT_EQ(url->host, "idp.example.test");
  EXPECT_EQ(url->path, "/app/o/a1/");
}

TEST(ParseHttpUrlTest, Ipv6LiteralHasNoBrackets) {
  EXPECT_EQ(ParseHttpUrl("http://[::1]:8080/")->host, "::1");
}

TEST(ParseHttpUrlTest, RejectsWhatIsNotAnAbsoluteHttpUrl) {
  EXPECT_EQ(ParseHttpUrl("idp.example.test").status().message(),
            "\"idp.example.test\" is not an absolute URL (expected https://host/...)");
  EXPECT_EQ(ParseHttpUrl("ftp://idp/").status().message(),
            "\"ftp://idp/\" is not an http or https URL");
}

TEST(IsLoopbackHostTest, KnowsLoopbackNames) {
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.1.2.3"));
  EXPECT_TRUE(IsLoopbackHost("LOCALHOST"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_FALSE(IsLoopbackHost("127.example.test"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1"));
}

TEST(PrefixUrlHostTest, PrefixesTheHostOnly) {
  EXPECT_EQ(*PrefixUrlHost("https://ims.bentley.com", "dev-"), "https://dev-ims.bentley.com");
  EXPECT_EQ(*PrefixUrlHost("https://ims.bentley.com/", "qa-"), "https://qa-ims.bentley.com/");
  EXPECT_EQ(*PrefixUrlHost("https://idp.test:8443/a/b", "dev-"), "https://dev-idp.test:8443/a/b");
  EXPECT_EQ(*PrefixUrlHost("https://ims.bentley.com", ""), "https://ims.bentley.com");
}

TEST(FormUrlEncodeTest, EncodesAsApplicationXWwwFormUrlencoded) {
  EXPECT_EQ(FormUrlEncode("api.read api.write"), "api.read+api.write");
  EXPECT_EQ(FormUrlEncode("a+b%c:d/e&f=g?h"), "a%2Bb%25c%3Ad%2Fe%26f%3Dg%3Fh");
  EXPECT_EQ(FormUrlEncode("A-Z_a.z~0"), "A-Z_a.z~0");
}

}  // namespace
}  // namespace agentauth
