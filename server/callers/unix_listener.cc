#include "server/callers/unix_listener.h"

#include <grpcpp/server.h>
#include <grpcpp/server_posix.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace agentauth {
namespace {

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::UnavailableError(
      absl::StrCat("cannot listen on unix:", path, ": ", what, ": ", std::strerror(errno)));
}

sockaddr_un AddressOf(const std::string& path) {
  sockaddr_un address = {};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  return address;
}

// A process answers on the socket: taking it over would cut that process off from its callers.
bool SocketIsLive(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const sockaddr_un address = AddressOf(path);
  const bool live = connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return live;
}

// Removes a socket file left behind by a daemon that did not stop cleanly.
absl::Status RemoveStaleSocket(const std::string& path) {
  struct stat info = {};
  if (lstat(path.c_str(), &info) != 0) {
    return errno == ENOENT ? absl::OkStatus() : Errno("stat", path);
  }
  if (!S_ISSOCK(info.st_mode)) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on unix:", path, ": the path exists and is not a socket; not removing it"));
  }
  if (SocketIsLive(path)) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on unix:", path, ": another process is serving on it"));
  }
  if (unlink(path.c_str()) != 0) return Errno("remove the stale socket", path);
  return absl::OkStatus();
}

}  // namespace

void UnixPeerRegistry::Record(int fd, UnixPeer peer) {
  std::lock_guard<std::mutex> lock(mutex_);
  peers_[fd] = peer;
}

std::optional<UnixPeer> UnixPeerRegistry::Find(absl::string_view grpc_peer) const {
  int fd = -1;
  if (!absl::ConsumePrefix(&grpc_peer, "fd:") || !absl::SimpleAtoi(grpc_peer, &fd)) {
    return std::nullopt;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  const auto found = peers_.find(fd);
  if (found == peers_.end()) return std::nullopt;
  return found->second;
}

absl::StatusOr<std::unique_ptr<UnixSocketListener>> UnixSocketListener::Bind(
    const std::string& path, mode_t mode, Logger& logger) {
  if (path.empty() || path.size() >= sizeof(sockaddr_un::sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot listen on unix:", path, ": the path is empty or too long"));
  }
  if (absl::Status stale = RemoveStaleSocket(path); !stale.ok()) return stale;

  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Errno("socket", path);
  const sockaddr_un address = AddressOf(path);
  // Bound with no permissions for anyone, then opened up to `mode`: no moment exists in which
  // a process the mode excludes could connect.
  const mode_t old_umask = umask(0777);
  const int bound = bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
  umask(old_umask);
  if (bound != 0) {
    absl::Status status = Errno("bind", path);
    close(fd);
    return status;
  }
  if (chmod(path.c_str(), mode) != 0 || listen(fd, SOMAXCONN) != 0) {
    absl::Status status = Errno("chmod/listen", path);
    close(fd);
    unlink(path.c_str());
    return status;
  }
  const int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    absl::Status status = Errno("eventfd", path);
    close(fd);
    unlink(path.c_str());
    return status;
  }
  return std::unique_ptr<UnixSocketListener>(new UnixSocketListener(path, fd, wake, logger));
}

UnixSocketListener::UnixSocketListener(std::string path, int listen_fd, int wake_fd, Logger& logger)
    : path_(std::move(path)), listen_fd_(listen_fd), wake_fd_(wake_fd), logger_(logger) {}

UnixSocketListener::~UnixSocketListener() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t written = write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  close(listen_fd_);
  close(wake_fd_);
  unlink(path_.c_str());
}

void UnixSocketListener::Start(grpc::Server& server, UnixPeerRegistry& peers) {
  thread_ = std::thread([this, &server, &peers] { AcceptLoop(server, peers); });
}

void UnixSocketListener::AcceptLoop(grpc::Server& server, UnixPeerRegistry& peers) {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      logger_.Error("server", "unix_accept_failed",
                    {{"path", path_}, {"cause", std::strerror(errno)}});
      return;
    }
    if (fds[1].revents != 0) return;

    const int connection = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (connection < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // The pending connection stays pending; without a pause poll would report it again at
        // once and this thread would spin. A wake-up still ends the pause.
        logger_.Warning("server", "unix_accept_failed",
                        {{"path", path_}, {"cause", std::strerror(errno)}});
        pollfd wake = {wake_fd_, POLLIN, 0};
        if (poll(&wake, 1, 100) > 0) return;
      }
      continue;  // EAGAIN, or a peer that went away before it was accepted.
    }
    ucred credentials = {};
    socklen_t length = sizeof(credentials);
    if (getsockopt(connection, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) {
      close(connection);
      continue;
    }
    // Recorded before gRPC can read a byte of the connection, so every call finds it.
    peers.Record(connection, UnixPeer{credentials.uid, credentials.gid, credentials.pid});
    grpc::AddInsecureChannelFromFd(&server, connection);
  }
}

}  // namespace agentauth
