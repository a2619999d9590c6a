// A Unix domain socket listener that knows who is on the other end of each connection.
//
// gRPC 1.51 does not expose a Unix socket peer's credentials to a call (its AuthContext holds
// none, and an AuthMetadataProcessor never sees the socket). So agentauthd accepts on the
// socket itself, reads SO_PEERCRED of each new connection, records it under the descriptor
// number and hands the descriptor to the running server (grpc::AddInsecureChannelFromFd). gRPC
// then names that connection's peer "fd:<n>" in every call, which leads back to the record.
//
// Why the record cannot be stale: a descriptor number is reused only after gRPC closed the
// old connection, which it does once the connection's calls are finished; a new connection
// with the same number overwrites the record before gRPC sees it.
#pragma once

#include <sys/types.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/common/logging.h"

namespace grpc {
class Server;
}

namespace agentauth {

struct UnixPeer {
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t pid = 0;
};

// Peer credentials by descriptor, filled by the listener and read by the caller
// authenticator. Thread-safe.
class UnixPeerRegistry {
 public:
  void Record(int fd, UnixPeer peer);
  // The peer of a call whose grpc peer string is `grpc_peer` ("fd:7"); nullopt for other
  // peers (TCP) and unknown descriptors.
  std::optional<UnixPeer> Find(absl::string_view grpc_peer) const;

 private:
  mutable std::mutex mutex_;
  absl::flat_hash_map<int, UnixPeer> peers_ ABSL_GUARDED_BY(mutex_);
};

// Listens on a Unix socket path and feeds connections to a started gRPC server.
class UnixSocketListener {
 public:
  // Binds `path` and applies `mode` to the socket file. A stale socket file (nobody answers
  // on it) is replaced; UNAVAILABLE when another process serves on it, when the path exists
  // and is not a socket, or when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<UnixSocketListener>> Bind(const std::string& path,
                                                                  mode_t mode, Logger& logger);
  // Stops accepting and removes the socket file. Connections already handed over stay with
  // gRPC.
  ~UnixSocketListener();

  // Starts accepting on a thread of its own, handing every connection to `server`, which must
  // be started and outlive this listener, and recording its peer in `peers`.
  void Start(grpc::Server& server, UnixPeerRegistry& peers);

  const std::string& path() const { return path_; }

 private:
  UnixSocketListener(std::string path, int listen_fd, int wake_fd, Logger& logger);
  void AcceptLoop(grpc::Server& server, UnixPeerRegistry& peers);

  const std::string path_;
  const int listen_fd_;
  const int wake_fd_;  // An eventfd: written once to end the accept loop.
  Logger& logger_;
  std::thread thread_;
};

}  // namespace agentauth
