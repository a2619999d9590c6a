#include "server/clients/client_registry.h"

#include <algorithm>

namespace agentauth {

ClientRegistry::ClientRegistry(const std::vector<ClientConfig>& clients) {
  for (const ClientConfig& client : clients) {
    clients_.push_back(std::make_shared<const ClientConfig>(client));
  }
}

std::shared_ptr<const ClientConfig> ClientRegistry::Find(absl::string_view name) const {
  // TODO(perf): a linear scan on every GetAccessToken; with 10,000 clients that is thousands of
  // name comparisons per call. The benchmarks' hot path uses one client and their 1,000-client
  // refresh scenario compares runs with equal client counts, so neither shows it; an index by
  // name kept by ReplaceAll and Replace would.
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

std::shared_ptr<const ClientConfig> ClientRegistry::At(size_t index) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return index < clients_.size() ? clients_[index] : nullptr;
}

ClientRegistry::Changes ClientRegistry::ReplaceAll(const std::vector<ClientConfig>& clients) {
  std::lock_guard<std::mutex> lock(mutex_);
  Changes changes;
  std::vector<std::shared_ptr<const ClientConfig>> next;
  for (const ClientConfig& client : clients) {
    const auto current = std::find_if(clients_.begin(), clients_.end(), [&](const auto& known) {
      return known->name == client.name;
    });
    if (current == clients_.end()) {
      changes.added.push_back(client.name);
    } else if (**current == client) {
      next.push_back(*current);
      continue;
    } else {
      changes.changed.push_back(client.name);
    }
    next.push_back(std::make_shared<const ClientConfig>(client));
  }
  for (const auto& known : clients_) {
    const bool kept = std::any_of(clients.begin(), clients.end(), [&](const ClientConfig& client) {
      return client.name == known->name;
    });
    if (!kept) changes.removed.push_back(known->name);
  }
  clients_ = std::move(next);
  return changes;
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
