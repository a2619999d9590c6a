#include "server/clients/client_registry.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace agentauth {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

ClientConfig Client(const std::string& name, const std::string& secret = "s") {
  ClientConfig client;
  client.name = name;
  client.client_id = name + "-id";
  client.client_secret = SecretString(secret);
  return client;
}

TEST(ClientRegistryTest, ReplaceAllReportsAddedRemovedAndChangedClients) {
  ClientRegistry registry({Client("kept"), Client("changed"), Client("removed")});
  const auto kept_before = registry.Find("kept");

  const ClientRegistry::Changes changes =
      registry.ReplaceAll({Client("added"), Client("kept"), Client("changed", "rotated")});

  EXPECT_THAT(changes.added, ElementsAre("added"));
  EXPECT_THAT(changes.removed, ElementsAre("removed"));
  EXPECT_THAT(changes.changed, ElementsAre("changed"));
  EXPECT_EQ(registry.Find("kept"), kept_before) << "an unchanged client keeps its entry";
  EXPECT_EQ(registry.Find("removed"), nullptr);
  EXPECT_EQ(registry.Find("changed")->client_secret, "rotated");
  ASSERT_EQ(registry.All().size(), 3u);
  EXPECT_EQ(registry.All()[0]->name, "added") << "configuration order";
}

TEST(ClientRegistryTest, AtGivesClientsInConfigurationOrderAndNullPastTheEnd) {
  ClientRegistry registry({Client("first"), Client("second")});

  EXPECT_EQ(registry.At(0)->name, "first");
  EXPECT_EQ(registry.At(1)->name, "second");
  EXPECT_EQ(registry.At(2), nullptr);
}

TEST(ClientRegistryTest, ReplacingWithTheSameClientsChangesNothing) {
  ClientRegistry registry({Client("a"), Client("b")});

  const ClientRegistry::Changes changes = registry.ReplaceAll({Client("a"), Client("b")});

  EXPECT_THAT(changes.added, IsEmpty());
  EXPECT_THAT(changes.removed, IsEmpty());
  EXPECT_THAT(changes.changed, IsEmpty());
}

}  // namespace
}  // namespace agentauth
