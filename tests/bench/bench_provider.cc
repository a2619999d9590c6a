#include "tests/bench/bench_provider.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tests/testing/loopback_socket.h"

namespace agentauth::bench {
namespace {

constexpr size_t kMaxRequestBytes = 64 << 10;

// The head and body of one request, or empty when the peer closed, stalled or sent too much.
std::string ReadRequest(int fd) {
  std::string data;
  char buffer[8192];
  size_t head_end = std::string::npos;
  size_t body_length = 0;
  while (true) {
    if (head_end == std::string::npos) {
      head_end = data.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        for (absl::string_view line : absl::StrSplit(data.substr(0, head_end), "\r\n")) {
          const size_t colon = line.find(':');
          if (colon == absl::string_view::npos ||
              !absl::EqualsIgnoreCase(line.substr(0, colon), "content-length")) {
            continue;
          }
          if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(colon + 1)), &body_length)) {
            return "";
          }
        }
      }
    }
    if (head_end != std::string::npos && data.size() >= head_end + 4 + body_length) return data;
    if (data.size() > kMaxRequestBytes) return "";
    const ssize_t read = recv(fd, buffer, sizeof(buffer), 0);
    if (read <= 0) return "";
    data.append(buffer, static_cast<size_t>(read));
  }
}

void SendAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t sent = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (sent <= 0) return;
    data.remove_prefix(static_cast<size_t>(sent));
  }
}

void SendJson(int fd, int status, absl::string_view body) {
  SendAll(fd, absl::StrCat("HTTP/1.1 ", status, status == 200 ? " OK" : " Not Found",
                           "\r\nContent-Type: application/json\r\nContent-Length: ", body.size(),
                           "\r\nConnection: close\r\n\r\n", body));
}

}  // namespace

std::string BenchProvider::MakeToken(size_t bytes, uint64_t n) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string token = absl::StrCat("bench-", n, ".");
  uint64_t state = n * 0x9e3779b97f4a7c15ULL + 1;
  while (token.size() < bytes) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    token.push_back(kAlphabet[state % 64]);
  }
  token.resize(bytes);
  return token;
}

absl::StatusOr<std::unique_ptr<BenchProvider>> BenchProvider::Start(const Options& options) {
  std::unique_ptr<BenchProvider> provider(new BenchProvider(options));
  if (pipe2(provider->stop_pipe_, O_CLOEXEC) != 0) {
    return absl::UnavailableError("cannot create the stop pipe");
  }
  absl::StatusOr<testing::LoopbackSocket> listening = testing::ListenOnLoopback(1024);
  if (!listening.ok()) return listening.status();
  provider->listen_fd_ = listening->fd;
  provider->base_url_ = absl::StrCat("http://127.0.0.1:", listening->port);
  provider->accept_thread_ = std::thread([raw = provider.get()] { raw->AcceptLoop(); });
  return provider;
}

BenchProvider::~BenchProvider() {
  if (stop_pipe_[1] >= 0) {
    const char byte = 0;
    (void)!write(stop_pipe_[1], &byte, 1);
  }
  if (accept_thread_.joinable()) accept_thread_.join();
  {
    std::unique_lock<std::mutex> lock(mutex_);
    stopping_ = true;
    for (int fd : open_fds_) shutdown(fd, SHUT_RDWR);
    all_closed_.wait(lock, [this] { return open_fds_.empty(); });
  }
  if (listen_fd_ >= 0) close(listen_fd_);
  for (int fd : stop_pipe_) {
    if (fd >= 0) close(fd);
  }
}

void BenchProvider::AcceptLoop() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0 || fds[1].revents != 0) return;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      open_fds_.insert(fd);
    }
    // Detached: the destructor waits for open_fds_ to empty instead of joining, so finished
    // connections leave nothing behind.
    std::thread([this, fd] { Serve(fd); }).detach();
  }
}

void BenchProvider::Serve(int fd) {
  const std::string request = ReadRequest(fd);
  const absl::string_view first_line = absl::string_view(request).substr(0, request.find("\r\n"));
  if (absl::StrContains(first_line, "/.well-known/openid-configuration")) {
    ++discovery_requests_;
    SendJson(fd, 200,
             absl::StrCat(R"({"issuer":")", base_url_, R"(","token_endpoint":")", base_url_,
                          R"(/token","token_endpoint_auth_methods_supported":)",
                          R"(["client_secret_basic"],"grant_types_supported":)",
                          R"(["client_credentials"]})"));
  } else if (absl::StrContains(first_line, "/token")) {
    AnswerToken(fd);
  } else if (!request.empty()) {
    SendJson(fd, 404, R"({"error":"not_found"})");
  }
  shutdown(fd, SHUT_WR);

  std::lock_guard<std::mutex> lock(mutex_);
  open_fds_.erase(fd);
  close(fd);
  // Notified under the lock: the destructor may return, and destroy the condition variable,
  // as soon as it sees the set empty.
  all_closed_.notify_all();
}

void BenchProvider::AnswerToken(int fd) {
  const int number = ++token_requests_;
  const int now_concurrent = ++concurrent_;
  int seen = max_concurrent_.load();
  while (now_concurrent > seen && !max_concurrent_.compare_exchange_weak(seen, now_concurrent)) {
  }

  if (options_.token_latency > absl::ZeroDuration()) {
    // The provider's latency, ended early only when the provider stops.
    pollfd stop = {stop_pipe_[0], POLLIN, 0};
    poll(&stop, 1, static_cast<int>(absl::ToInt64Milliseconds(options_.token_latency)));
  }
  SendJson(
      fd, 200,
      absl::StrCat(R"({"access_token":")", MakeToken(options_.token_bytes, number),
                   R"(","token_type":"Bearer","expires_in":)", options_.expires_in_seconds, "}"));
  --concurrent_;
}

}  // namespace agentauth::bench
