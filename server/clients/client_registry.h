// The configured clients as they are now: a client's entry is replaced whole when its secret
// rotates, so a reader always sees one consistent version of it.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "server/config/config.h"

namespace agentauth {

// Thread-safe.
class ClientRegistry {
 public:
  explicit ClientRegistry(const std::vector<ClientConfig>& clients);

  // The current version of client `name`, or nullptr. The pointer stays valid however the
  // registry changes afterwards.
  std::shared_ptr<const ClientConfig> Find(absl::string_view name) const;

  // Every client, in configuration order.
  std::vector<std::shared_ptr<const ClientConfig>> All() const;

  // The client at `index` in configuration order, or nullptr past the end: one client without
  // copying the whole list.
  std::shared_ptr<const ClientConfig> At(size_t index) const;

  // Replaces the client of the same name. Returns false when there is none.
  bool Replace(ClientConfig client);

  // What ReplaceAll changed, by client name.
  struct Changes {
    std::vector<std::string> added;
    std::vector<std::string> removed;
    std::vector<std::string> changed;  // Any setting or the secret differs.
  };

  // Makes `clients` the configured clients, in their order. Clients equal to the current ones
  // keep their entries (and so their cached tokens).
  Changes ReplaceAll(const std::vector<ClientConfig>& clients);

 private:
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<const ClientConfig>> clients_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace agentauth
