#include "server/clients/client_registry.h"

namespace agentauth {

ClientRegistry::ClientRegistry(const std::vector<ClientConfig>& clients) {
  for (const ClientConfig& client : clients) {
    clients_.push_back(std::make_shared<const ClientConfig>(client));
  }
}

std::shared_ptr<const ClientConfig> ClientRegistry::Find(absl::string_view name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& client : clients_) {
    if (client->name == name) return client;
  }
  return nullptr;
}

std::vector<std::shared_ptr<const ClientConfig>> ClientRegistry::All() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return clients_;
}

bool ClientRegistry::Replace(ClientConfig client) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& existing : clients_) {
    if (existing->name != client.name) continue;
    existing = std::make_shared<const ClientConfig>(std::move(client));
    return true;
  }
  return false;
}

}  // namespace agentauth
