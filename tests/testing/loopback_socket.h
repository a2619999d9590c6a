// A TCP socket listening on 127.0.0.1, on a port the kernel picks: where the test and benchmark
// providers of our own accept their connections.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/status/statusor.h"

namespace agentauth::testing {

struct LoopbackSocket {
  int fd = -1;  // The caller's to close.
  int port = 0;
};

inline absl::StatusOr<LoopbackSocket> ListenOnLoopback(int backlog) {
  LoopbackSocket listening;
  listening.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (listening.fd < 0 ||
      bind(listening.fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(listening.fd, backlog) != 0 ||
      getsockname(listening.fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    if (listening.fd >= 0) close(listening.fd);
    return absl::UnavailableError("cannot listen on 127.0.0.1");
  }
  listening.port = ntohs(address.sin_port);
  return listening;
}

}  // namespace agentauth::testing
