// The configured clients as they are now: a client's entry is replaced whole when its secret
// rotates, so a reader always sees one consistent version of it.
#pragma once

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

  // Replaces the client of the same name. Returns false when there is none.
  bool Replace(ClientConfig client);

 private:
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<const ClientConfig>> clients_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace agentauth
