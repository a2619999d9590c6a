#include "tests/testing/fault_provider.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tests/testing/loopback_socket.h"
#include "tests/testing/subprocess.h"

namespace agentauth::testing {
namespace internal {

// One accepted socket, plain or TLS, with waits that end when the server stops.
class Connection {
 public:
  enum class Wait { kReadable, kTimeout, kClosed, kStopped };

  Connection(int fd, SSL* ssl, int stop_fd) : fd_(fd), ssl_(ssl), stop_fd_(stop_fd) {}
  ~Connection() {
    if (ssl_ != nullptr) SSL_free(ssl_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  int fd() const { return fd_; }
  int stop_fd() const { return stop_fd_; }

  // Up to `size` bytes; 0 at the end of the stream or on an error.
  size_t Read(char* data, size_t size) {
    if (ssl_ != nullptr) {
      const int read = SSL_read(ssl_, data, static_cast<int>(size));
      return read > 0 ? static_cast<size_t>(read) : 0;
    }
    const ssize_t read = recv(fd_, data, size, 0);
    return read > 0 ? static_cast<size_t>(read) : 0;
  }

  bool WriteAll(absl::string_view data) {
    while (!data.empty()) {
      ssize_t written = 0;
      if (ssl_ != nullptr) {
        written = SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
      } else {
        written = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      }
      if (written <= 0) return false;
      data.remove_prefix(static_cast<size_t>(written));
    }
    return true;
  }

  // Waits until the socket has something to read, the stop signal comes, or `timeout` passes.
  Wait WaitReadable(absl::Duration timeout) {
    if (ssl_ != nullptr && SSL_pending(ssl_) > 0) return Wait::kReadable;
    pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    const int millis = timeout == absl::InfiniteDuration()
                           ? -1
                           : static_cast<int>(absl::ToInt64Milliseconds(timeout));
    const int ready = poll(fds, 2, millis);
    if (ready < 0) return Wait::kClosed;
    if (fds[1].revents != 0) return Wait::kStopped;
    if (fds[0].revents != 0) return Wait::kReadable;
    return Wait::kTimeout;
  }

  // Lets `duration` pass while discarding whatever the peer still sends. kTimeout when it passed,
  // kClosed when the peer closed first, kStopped when the server stopped first.
  Wait Idle(absl::Duration duration) {
    const absl::Time end =
        duration == absl::InfiniteDuration() ? absl::InfiniteFuture() : absl::Now() + duration;
    char scratch[4096];
    while (true) {
      const absl::Duration left = end == absl::InfiniteFuture()
                                      ? absl::InfiniteDuration()
                                      : std::max(end - absl::Now(), absl::ZeroDuration());
      const Wait wait = WaitReadable(left);
      if (wait != Wait::kReadable) return wait;
      if (Read(scratch, sizeof(scratch)) == 0) return Wait::kClosed;
    }
  }

  // Ends the stream cleanly: TLS close_notify, then FIN.
  void CloseGracefully() {
    if (ssl_ != nullptr) SSL_shutdown(ssl_);
    shutdown(fd_, SHUT_WR);
  }

 private:
  const int fd_;
  SSL* const ssl_;
  const int stop_fd_;
};

// Accepts connections on 127.0.0.1 and runs a handler for each on a thread of its own.
class LoopbackServer {
 public:
  using Handler = std::function<void(Connection&)>;

  // Takes ownership of `tls` (may be null: plain TCP).
  static absl::StatusOr<std::unique_ptr<LoopbackServer>> Start(SSL_CTX* tls, Handler handler) {
    std::unique_ptr<LoopbackServer> server(new LoopbackServer(tls, std::move(handler)));
    if (pipe2(server->stop_pipe_, O_CLOEXEC) != 0) {
      return absl::UnavailableError("cannot create the stop pipe");
    }
    absl::StatusOr<LoopbackSocket> listening = ListenOnLoopback(256);
    if (!listening.ok()) return listening.status();
    server->listen_fd_ = listening->fd;
    server->port_ = listening->port;
    server->accept_thread_ = std::thread([raw = server.get()] { raw->AcceptLoop(); });
    return server;
  }

  ~LoopbackServer() {
    if (stop_pipe_[1] >= 0) {
      const char byte = 0;
      (void)!write(stop_pipe_[1], &byte, 1);
    }
    if (accept_thread_.joinable()) accept_thread_.join();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (int fd : open_fds_) shutdown(fd, SHUT_RDWR);
    }
    for (std::thread& thread : threads_) thread.join();
    if (listen_fd_ >= 0) close(listen_fd_);
    for (int fd : stop_pipe_) {
      if (fd >= 0) close(fd);
    }
    if (tls_ != nullptr) SSL_CTX_free(tls_);
  }

  int port() const { return port_; }

  int accepted() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return accepted_;
  }
  int failed_handshakes() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return failed_handshakes_;
  }

  bool WaitForClosed(int count, absl::Duration timeout) const {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                             [&] { return closed_ >= count; });
  }

 private:
  LoopbackServer(SSL_CTX* tls, Handler handler) : tls_(tls), handler_(std::move(handler)) {}

  void AcceptLoop() {
    while (true) {
      pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
      if (poll(fds, 2, -1) < 0 || fds[1].revents != 0) return;
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard<std::mutex> lock(mutex_);
      ++accepted_;
      open_fds_.insert(fd);
      threads_.emplace_back([this, fd] { RunConnection(fd); });
    }
  }

  void RunConnection(int fd) {
    // A peer that closed first turns a write into EPIPE on this thread instead of a SIGPIPE
    // that would end the test process (OpenSSL writes without MSG_NOSIGNAL).
    sigset_t pipe_signal;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);

    SSL* ssl = nullptr;
    bool handshake_ok = true;
    if (tls_ != nullptr) {
      ssl = SSL_new(tls_);
      SSL_set_fd(ssl, fd);
      handshake_ok = SSL_accept(ssl) == 1;
      ERR_clear_error();
    }
    {
      Connection connection(fd, ssl, stop_pipe_[0]);
      if (handshake_ok) {
        handler_(connection);
        connection.CloseGracefully();
      }
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (!handshake_ok) ++failed_handshakes_;
    open_fds_.erase(fd);
    close(fd);
    ++closed_;
    changed_.notify_all();
  }

  SSL_CTX* const tls_;
  const Handler handler_;
  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  int port_ = 0;
  std::thread accept_thread_;

  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::set<int> open_fds_;
  std::vector<std::thread> threads_;
  int accepted_ = 0;
  int failed_handshakes_ = 0;
  int closed_ = 0;
};

}  // namespace internal

namespace {

using internal::Connection;

constexpr size_t kMaxHeadBytes = 64 << 10;
constexpr size_t kMaxBodyBytes = 64 << 20;

const char* ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 407:
      return "Proxy Authentication Required";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Status";
  }
}

// Reads an HTTP/1.1 message from a connection: the head, then a body framed either way.
class MessageReader {
 public:
  explicit MessageReader(Connection& connection) : connection_(connection) {}

  // Everything up to and including the blank line after the headers; nullopt when the stream
  // ends first or the head is too large.
  std::optional<std::string> ReadHead() {
    while (true) {
      const size_t end = buffer_.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::string head = buffer_.substr(0, end + 4);
        buffer_.erase(0, end + 4);
        return head;
      }
      if (buffer_.size() > kMaxHeadBytes || !Fill()) return std::nullopt;
    }
  }

  std::optional<std::string> ReadExactly(size_t size) {
    while (buffer_.size() < size) {
      if (size > kMaxBodyBytes || !Fill()) return std::nullopt;
    }
    std::string out = buffer_.substr(0, size);
    buffer_.erase(0, size);
    return out;
  }

  std::optional<std::string> ReadLine() {
    while (true) {
      const size_t end = buffer_.find("\r\n");
      if (end != std::string::npos) {
        std::string line = buffer_.substr(0, end);
        buffer_.erase(0, end + 2);
        return line;
      }
      if (buffer_.size() > kMaxHeadBytes || !Fill()) return std::nullopt;
    }
  }

  // A chunked body, decoded; trailers are read and dropped.
  std::optional<std::string> ReadChunked() {
    std::string body;
    while (true) {
      std::optional<std::string> size_line = ReadLine();
      if (!size_line) return std::nullopt;
      const absl::string_view hex =
          absl::StripAsciiWhitespace(absl::string_view(*size_line).substr(0, size_line->find(';')));
      size_t size = 0;
      if (!absl::SimpleHexAtoi(hex, &size) || body.size() + size > kMaxBodyBytes) {
        return std::nullopt;
      }
      if (size == 0) break;
      std::optional<std::string> chunk = ReadExactly(size + 2);
      if (!chunk) return std::nullopt;
      body.append(*chunk, 0, size);
    }
    while (true) {
      std::optional<std::string> trailer = ReadLine();
      if (!trailer) return std::nullopt;
      if (trailer->empty()) return body;
    }
  }

  // Bytes read past the message so far.
  std::string TakeBuffered() { return std::exchange(buffer_, ""); }

 private:
  bool Fill() {
    char data[16 << 10];
    const size_t read = connection_.Read(data, sizeof(data));
    if (read == 0) return false;
    buffer_.append(data, read);
    return true;
  }

  Connection& connection_;
  std::string buffer_;
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Splits a head into its first line and its headers (names lower-cased).
std::string ParseHead(absl::string_view head, HeaderList& headers) {
  std::vector<absl::string_view> lines = absl::StrSplit(head, "\r\n");
  std::string first_line(lines.empty() ? "" : lines[0]);
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    if (colon == absl::string_view::npos) continue;
    headers.emplace_back(
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(lines[i].substr(0, colon))),
        std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1))));
  }
  return first_line;
}

std::optional<std::string> FindHeader(const HeaderList& headers, absl::string_view name) {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return std::nullopt;
}

bool HasHeader(const HeaderList& headers, absl::string_view lower_case_name) {
  for (const auto& [key, value] : headers) {
    if (absl::AsciiStrToLower(key) == lower_case_name) return true;
  }
  return false;
}

// "/token" from "/token?x" or "http://host:1/token?x".
std::string PathOf(absl::string_view target) {
  if (const size_t scheme = target.find("://"); scheme != absl::string_view::npos) {
    target.remove_prefix(scheme + 3);
    const size_t slash = target.find('/');
    target = slash == absl::string_view::npos ? "/" : target.substr(slash);
  }
  return std::string(target.substr(0, target.find('?')));
}

// The body as it goes on the wire after the head: compressed, framed, maybe cut short.
std::string WireBody(const FaultStep& step, absl::string_view payload) {
  if (!step.chunked) {
    return std::string(step.truncate_at ? payload.substr(0, *step.truncate_at) : payload);
  }
  std::vector<absl::string_view> chunks;
  size_t start = 0;
  for (size_t split : step.chunk_splits) {
    split = std::min(split, payload.size());
    if (split > start) chunks.push_back(payload.substr(start, split - start));
    start = std::max(start, split);
  }
  if (start < payload.size()) chunks.push_back(payload.substr(start));

  std::string wire;
  size_t sent = 0;
  for (absl::string_view chunk : chunks) {
    if (step.truncate_at && sent + chunk.size() > *step.truncate_at) {
      absl::StrAppend(&wire, absl::Hex(chunk.size()), "\r\n",
                      chunk.substr(0, *step.truncate_at - sent));
      return wire;
    }
    absl::StrAppend(&wire, absl::Hex(chunk.size()), "\r\n", chunk, "\r\n");
    sent += chunk.size();
  }
  if (!step.truncate_at) wire += "0\r\n\r\n";
  return wire;
}

std::string ResponseHead(const FaultStep& step, size_t payload_size) {
  std::string head = absl::StrCat("HTTP/1.1 ", step.status, " ", ReasonPhrase(step.status), "\r\n");
  for (const auto& [name, value] : step.headers) absl::StrAppend(&head, name, ": ", value, "\r\n");
  if (step.gzip && !HasHeader(step.headers, "content-encoding")) {
    head += "Content-Encoding: gzip\r\n";
  }
  if (step.chunked && !HasHeader(step.headers, "transfer-encoding")) {
    head += "Transfer-Encoding: chunked\r\n";
  }
  if (!step.chunked && !HasHeader(step.headers, "content-length")) {
    absl::StrAppend(&head, "Content-Length: ", payload_size, "\r\n");
  }
  if (!HasHeader(step.headers, "connection")) head += "Connection: close\r\n";
  return head + "\r\n";
}

// Sends `step`'s answer. False when the connection must be dropped without a clean close.
bool Answer(Connection& connection, const FaultStep& step) {
  if (step.delay > absl::ZeroDuration() &&
      connection.Idle(step.delay) != Connection::Wait::kTimeout) {
    return false;
  }
  if (step.hang) {
    connection.Idle(absl::InfiniteDuration());
    return false;
  }

  const std::string payload = step.gzip ? Gzip(step.body) : step.body;
  const std::string head = ResponseHead(step, payload.size());
  const std::string body = WireBody(step, payload);
  if (step.trickle_interval <= absl::ZeroDuration()) {
    return connection.WriteAll(absl::StrCat(head, body)) && !step.truncate_at;
  }
  if (!connection.WriteAll(head)) return false;
  for (char byte : body) {
    if (connection.Idle(step.trickle_interval) != Connection::Wait::kTimeout) return false;
    if (!connection.WriteAll(absl::string_view(&byte, 1))) return false;
  }
  return !step.truncate_at;
}

// Loads the TLS files into a server context; nullptr with `error` set when they do not load.
SSL_CTX* ServerTlsContext(const std::string& certificate_file, const std::string& key_file,
                          std::string& error) {
  SSL_CTX* context = SSL_CTX_new(TLS_server_method());
  if (context == nullptr ||
      SSL_CTX_use_certificate_chain_file(context, certificate_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(context, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    char detail[256] = {0};
    ERR_error_string_n(ERR_get_error(), detail, sizeof(detail));
    error = absl::StrCat("cannot load ", certificate_file, " and ", key_file, ": ", detail);
    if (context != nullptr) SSL_CTX_free(context);
    return nullptr;
  }
  return context;
}

int ConnectToLoopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    return fd;
  }
  if (fd >= 0) close(fd);
  return -1;
}

// Copies bytes both ways between a client and an upstream socket until either side closes or
// the server stops.
void Pump(Connection& client, int upstream) {
  char data[16 << 10];
  while (true) {
    pollfd fds[3] = {
        {client.fd(), POLLIN, 0}, {upstream, POLLIN, 0}, {client.stop_fd(), POLLIN, 0}};
    if (poll(fds, 3, -1) < 0 || fds[2].revents != 0) return;
    if (fds[0].revents != 0) {
      const size_t read = client.Read(data, sizeof(data));
      if (read == 0 || send(upstream, data, read, MSG_NOSIGNAL) != static_cast<ssize_t>(read)) {
        return;
      }
    }
    if (fds[1].revents != 0) {
      const ssize_t read = recv(upstream, data, sizeof(data), 0);
      if (read <= 0 || !client.WriteAll(absl::string_view(data, static_cast<size_t>(read)))) {
        return;
      }
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// FaultStep

FaultStep FaultStep::Json(int status, std::string body) {
  return Text(status, "application/json", std::move(body));
}

FaultStep FaultStep::Text(int status, std::string content_type, std::string body) {
  FaultStep step;
  step.status = status;
  step.headers.emplace_back("Content-Type", std::move(content_type));
  step.body = std::move(body);
  return step;
}

FaultStep FaultStep::Token(absl::string_view access_token, int expires_in) {
  return Json(200, absl::StrCat(R"({"access_token":")", access_token,
                                R"(","token_type":"Bearer","expires_in":)", expires_in, "}"));
}

FaultStep FaultStep::Redirect(int status, std::string location) {
  FaultStep step;
  step.status = status;
  step.headers.emplace_back("Location", std::move(location));
  return step;
}

FaultStep FaultStep::Hang() {
  FaultStep step;
  step.hang = true;
  return step;
}

FaultStep& FaultStep::WithHeader(std::string name, std::string value) {
  headers.emplace_back(std::move(name), std::move(value));
  return *this;
}

std::optional<std::string> RecordedRequest::Header(absl::string_view lower_case_name) const {
  return FindHeader(headers, lower_case_name);
}

// ---------------------------------------------------------------------------------------------
// FaultProvider

struct FaultProvider::State {
  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  std::string issuer;
  std::string token_endpoint;
  std::deque<FaultStep> discovery_queue;
  std::optional<FaultStep> discovery_default;
  std::deque<FaultStep> token_queue;
  FaultStep token_default = FaultStep::Json(500, R"({"error":"nothing scripted"})");
  std::vector<RecordedRequest> requests;
  int token_requests = 0;
  std::map<std::string, FaultStep> documents;
};

FaultProvider::FaultProvider() : state_(std::make_unique<State>()) {}

FaultProvider::~FaultProvider() { server_.reset(); }

absl::StatusOr<std::unique_ptr<FaultProvider>> FaultProvider::Start(const Options& options) {
  SSL_CTX* tls = nullptr;
  if (!options.tls_certificate_file.empty() || !options.tls_key_file.empty()) {
    std::string error;
    tls = ServerTlsContext(options.tls_certificate_file, options.tls_key_file, error);
    if (tls == nullptr) return absl::InvalidArgumentError(error);
  }

  std::unique_ptr<FaultProvider> provider(new FaultProvider());
  provider->options_ = options;
  absl::StatusOr<std::unique_ptr<internal::LoopbackServer>> server =
      internal::LoopbackServer::Start(
          tls, [raw = provider.get()](Connection& connection) { raw->Serve(connection); });
  if (!server.ok()) return server.status();
  provider->server_ = *std::move(server);
  provider->state_->issuer = provider->base_url();
  provider->state_->token_endpoint = provider->base_url() + "/token";
  return provider;
}

int FaultProvider::port() const { return server_->port(); }

std::string FaultProvider::base_url() const {
  const bool tls = !options_.tls_certificate_file.empty();
  const std::string port_text = options_.omit_port_in_url ? "" : absl::StrCat(":", port());
  return absl::StrCat(tls ? "https://" : "http://", options_.host, port_text);
}

void FaultProvider::SetDiscovery(std::string issuer, std::string token_endpoint) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->issuer = std::move(issuer);
  state_->token_endpoint = std::move(token_endpoint);
}

std::string FaultProvider::DiscoveryDocument() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return absl::StrCat(R"({"issuer":")", state_->issuer, R"(","token_endpoint":")",
                      state_->token_endpoint,
                      R"(","grant_types_supported":["client_credentials"],)",
                      R"("token_endpoint_auth_methods_supported":["client_secret_basic",)",
                      R"("client_secret_post"]})");
}

void FaultProvider::QueueDiscovery(FaultStep step) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->discovery_queue.push_back(std::move(step));
}

void FaultProvider::SetDiscoveryDefault(FaultStep step) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->discovery_default = std::move(step);
}

void FaultProvider::QueueToken(FaultStep step) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->token_queue.push_back(std::move(step));
}

void FaultProvider::SetDocument(std::string path, FaultStep step) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->documents.insert_or_assign(std::move(path), std::move(step));
}

void FaultProvider::SetTokenDefault(FaultStep step) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->token_default = std::move(step);
}

std::vector<RecordedRequest> FaultProvider::Requests() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->requests;
}

std::vector<RecordedRequest> FaultProvider::TokenRequests() const {
  std::vector<RecordedRequest> token_requests;
  for (RecordedRequest& request : Requests()) {
    if (absl::EndsWith(request.path, "/token")) token_requests.push_back(std::move(request));
  }
  return token_requests;
}

int FaultProvider::TokenRequestCount() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->token_requests;
}

int FaultProvider::Connections() const { return server_->accepted(); }

int FaultProvider::FailedHandshakes() const { return server_->failed_handshakes(); }

bool FaultProvider::WaitForRequests(int count, absl::Duration timeout) const {
  std::unique_lock<std::mutex> lock(state_->mutex);
  return state_->changed.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] {
    return state_->requests.size() >= static_cast<size_t>(count);
  });
}

bool FaultProvider::WaitForTokenRequests(int count, absl::Duration timeout) const {
  std::unique_lock<std::mutex> lock(state_->mutex);
  return state_->changed.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                                  [&] { return state_->token_requests >= count; });
}

bool FaultProvider::WaitForClosedConnections(int count, absl::Duration timeout) const {
  return server_->WaitForClosed(count, timeout);
}

void FaultProvider::Serve(Connection& connection) {
  MessageReader reader(connection);
  std::optional<std::string> head = reader.ReadHead();
  if (!head) return;

  RecordedRequest request;
  const std::vector<std::string> request_line =
      absl::StrSplit(ParseHead(*head, request.headers), ' ');
  if (request_line.size() != 3) return;
  request.method = request_line[0];
  request.target = request_line[1];
  request.path = PathOf(request.target);

  if (absl::EqualsIgnoreCase(request.Header("expect").value_or(""), "100-continue") &&
      !connection.WriteAll("HTTP/1.1 100 Continue\r\n\r\n")) {
    return;
  }
  std::optional<std::string> body;
  if (absl::StrContains(absl::AsciiStrToLower(request.Header("transfer-encoding").value_or("")),
                        "chunked")) {
    body = reader.ReadChunked();
  } else {
    size_t length = 0;
    if (!absl::SimpleAtoi(request.Header("content-length").value_or("0"), &length)) return;
    body = reader.ReadExactly(length);
  }
  if (!body) return;
  request.body = *std::move(body);

  std::optional<FaultStep> step;  // Stays empty for the default discovery document.
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (const auto document = state_->documents.find(request.path);
        document != state_->documents.end()) {
      step = document->second;
    } else if (absl::EndsWith(request.path, "/.well-known/openid-configuration")) {
      if (!state_->discovery_queue.empty()) {
        step = std::move(state_->discovery_queue.front());
        state_->discovery_queue.pop_front();
      } else {
        step = state_->discovery_default;
      }
    } else if (absl::EndsWith(request.path, "/token")) {
      ++state_->token_requests;
      if (!state_->token_queue.empty()) {
        step = std::move(state_->token_queue.front());
        state_->token_queue.pop_front();
      } else {
        step = state_->token_default;
      }
    } else {
      step = FaultStep::Json(404, R"({"error":"not_found"})");
    }
    state_->requests.push_back(request);
  }
  state_->changed.notify_all();

  if (!step) step = FaultStep::Json(200, DiscoveryDocument());
  if (!Answer(connection, *step)) {
    // Dropped: no close_notify, so TLS clients see the stream end abruptly too.
    shutdown(connection.fd(), SHUT_RDWR);
  }
}

// ---------------------------------------------------------------------------------------------
// ConnectProxy

struct ConnectProxy::State {
  Options options;
  mutable std::mutex mutex;
  std::vector<Request> requests;
};

std::optional<std::string> ConnectProxy::Request::Header(absl::string_view lower_case_name) const {
  return FindHeader(headers, lower_case_name);
}

ConnectProxy::ConnectProxy() : state_(std::make_unique<State>()) {}

ConnectProxy::~ConnectProxy() { server_.reset(); }

absl::StatusOr<std::unique_ptr<ConnectProxy>> ConnectProxy::Start(Options options) {
  std::unique_ptr<ConnectProxy> proxy(new ConnectProxy());
  proxy->state_->options = std::move(options);
  absl::StatusOr<std::unique_ptr<internal::LoopbackServer>> server =
      internal::LoopbackServer::Start(
          nullptr, [raw = proxy.get()](Connection& connection) { raw->Serve(connection); });
  if (!server.ok()) return server.status();
  proxy->server_ = *std::move(server);
  return proxy;
}

int ConnectProxy::port() const { return server_->port(); }

std::string ConnectProxy::url() const { return absl::StrCat("http://127.0.0.1:", port()); }

std::vector<ConnectProxy::Request> ConnectProxy::Requests() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->requests;
}

void ConnectProxy::Serve(Connection& connection) {
  MessageReader reader(connection);
  std::optional<std::string> head = reader.ReadHead();
  if (!head) return;

  Request request;
  request.request_line = ParseHead(*head, request.headers);
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->requests.push_back(request);
  }

  const std::vector<std::string> parts = absl::StrSplit(request.request_line, ' ');
  if (parts.size() != 3) return;
  const bool is_connect = parts[0] == "CONNECT";
  // "idp.example.test:443" or "http://idp.example.test:80/token".
  absl::string_view authority = parts[1];
  if (!is_connect) {
    if (!absl::ConsumePrefix(&authority, "http://")) return;
    authority = authority.substr(0, authority.find('/'));
  }
  const std::string host = absl::AsciiStrToLower(authority.substr(0, authority.rfind(':')));

  const Options& options = state_->options;
  if (options.refuse_with != 0) {
    std::string answer =
        absl::StrCat("HTTP/1.1 ", options.refuse_with, " ", ReasonPhrase(options.refuse_with),
                     "\r\nContent-Length: 0\r\nConnection: close\r\n");
    if (options.refuse_with == 407) answer += "Proxy-Authenticate: Basic realm=\"test\"\r\n";
    connection.WriteAll(answer + "\r\n");
    return;
  }
  const auto route = options.routes.find(host);
  const int upstream = route == options.routes.end() ? -1 : ConnectToLoopback(route->second);
  if (upstream < 0) {
    connection.WriteAll(
        "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    return;
  }

  const std::string early = reader.TakeBuffered();
  const bool ready = is_connect ? connection.WriteAll("HTTP/1.1 200 Connection established\r\n\r\n")
                                : send(upstream, head->data(), head->size(), MSG_NOSIGNAL) ==
                                      static_cast<ssize_t>(head->size());
  if (ready && (early.empty() || send(upstream, early.data(), early.size(), MSG_NOSIGNAL) ==
                                     static_cast<ssize_t>(early.size()))) {
    Pump(connection, upstream);
  }
  close(upstream);
}

// ---------------------------------------------------------------------------------------------
// Certificates

namespace {

absl::Status RunOpenssl(const std::vector<std::string>& arguments) {
  std::vector<std::string> argv = {"openssl"};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  absl::StatusOr<ProcessResult> result = RunProcess(argv, {}, absl::Seconds(30));
  if (!result.ok()) return result.status();
  if (result->exit_code != 0) {
    return absl::InternalError(absl::StrCat(absl::StrJoin(argv, " "), " failed:\n",
                                            result->stdout_text, result->stderr_text));
  }
  return absl::OkStatus();
}

absl::Status WriteFile(const std::string& path, absl::string_view text) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text;
  file.close();
  if (!file) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::InternalError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

}  // namespace

absl::StatusOr<TestCertificateAuthority> TestCertificateAuthority::Create(const std::string& dir,
                                                                          const std::string& name) {
  TestCertificateAuthority authority;
  authority.dir_ = dir;
  authority.certificate_file_ = absl::StrCat(dir, "/", name, "-ca.pem");
  authority.key_file_ = absl::StrCat(dir, "/", name, "-ca.key");
  absl::Status made =
      RunOpenssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                  "-nodes", "-keyout", authority.key_file_, "-out", authority.certificate_file_,
                  "-days", "2", "-subj", absl::StrCat("/CN=agentauth test CA ", name)});
  if (!made.ok()) return made;
  return authority;
}

absl::StatusOr<TestCertificateAuthority::ServerCertificate> TestCertificateAuthority::Issue(
    const std::string& file_stem, const std::vector<std::string>& names) const {
  std::vector<std::string> alt_names;
  for (const std::string& name : names) {
    in_addr address = {};
    const bool is_ip = inet_pton(AF_INET, name.c_str(), &address) == 1;
    alt_names.push_back(absl::StrCat(is_ip ? "IP:" : "DNS:", name));
  }
  return IssueLeaf(file_stem, names.front(), alt_names, "serverAuth");
}

absl::StatusOr<TestCertificateAuthority::ServerCertificate> TestCertificateAuthority::IssueClient(
    const std::string& file_stem, const std::string& common_name,
    const std::vector<std::string>& alt_names) const {
  return IssueLeaf(file_stem, common_name, alt_names, "clientAuth");
}

absl::StatusOr<TestCertificateAuthority::ServerCertificate> TestCertificateAuthority::IssueLeaf(
    const std::string& file_stem, const std::string& common_name,
    const std::vector<std::string>& alt_names, const std::string& extended_key_usage) const {
  const std::string stem = absl::StrCat(dir_, "/", file_stem);
  ServerCertificate issued{stem + ".pem", stem + ".key"};
  std::string extensions = absl::StrCat("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n",
                                        "extendedKeyUsage=", extended_key_usage, "\n");
  if (!alt_names.empty()) {
    extensions = absl::StrCat("subjectAltName=", absl::StrJoin(alt_names, ","), "\n", extensions);
  }
  absl::Status status = WriteFile(stem + ".ext", extensions);
  if (status.ok()) {
    status = RunOpenssl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                         "-nodes", "-keyout", issued.key_file, "-out", stem + ".csr", "-subj",
                         absl::StrCat("/CN=", common_name)});
  }
  if (status.ok()) {
    status = RunOpenssl({"x509", "-req", "-in", stem + ".csr", "-CA", certificate_file_, "-CAkey",
                         key_file_, "-CAcreateserial", "-out", stem + ".leaf.pem", "-days", "2",
                         "-extfile", stem + ".ext"});
  }
  if (!status.ok()) return status;

  absl::StatusOr<std::string> leaf = ReadFile(stem + ".leaf.pem");
  absl::StatusOr<std::string> ca = ReadFile(certificate_file_);
  if (!leaf.ok()) return leaf.status();
  if (!ca.ok()) return ca.status();
  status = WriteFile(issued.certificate_file, *leaf + *ca);
  if (!status.ok()) return status;
  return issued;
}

// ---------------------------------------------------------------------------------------------
// Environment

ScopedEnv::ScopedEnv(std::string name, std::optional<std::string> value) : name_(std::move(name)) {
  if (const char* old = std::getenv(name_.c_str())) old_value_ = old;
  if (value) {
    setenv(name_.c_str(), value->c_str(), 1);
  } else {
    unsetenv(name_.c_str());
  }
}

ScopedEnv::~ScopedEnv() {
  if (old_value_) {
    setenv(name_.c_str(), old_value_->c_str(), 1);
  } else {
    unsetenv(name_.c_str());
  }
}

std::vector<std::unique_ptr<ScopedEnv>> ScopedEnv::WithoutProxies() {
  std::vector<std::unique_ptr<ScopedEnv>> cleared;
  for (const char* name : {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                           "no_proxy", "NO_PROXY"}) {
    cleared.push_back(std::make_unique<ScopedEnv>(name, std::nullopt));
  }
  return cleared;
}

// ---------------------------------------------------------------------------------------------
// Encodings

namespace {

// Feeds `next` (which returns empty when done) through a gzip deflater.
std::string GzipStream(const std::function<absl::string_view()>& next) {
  z_stream stream = {};
  // 15 window bits + 16: a gzip header and trailer instead of zlib's.
  deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out;
  char buffer[64 << 10];
  int flush = Z_NO_FLUSH;
  do {
    absl::string_view input = next();
    flush = input.empty() ? Z_FINISH : Z_NO_FLUSH;
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
    stream.avail_in = static_cast<uInt>(input.size());
    do {
      stream.next_out = reinterpret_cast<Bytef*>(buffer);
      stream.avail_out = sizeof(buffer);
      deflate(&stream, flush);
      out.append(buffer, sizeof(buffer) - stream.avail_out);
    } while (stream.avail_out == 0);
  } while (flush != Z_FINISH);
  deflateEnd(&stream);
  return out;
}

// Appends bits to a byte string, least significant bit first (RFC 7932 section 2).
class BitWriter {
 public:
  void Write(uint32_t value, int bits) {
    for (int i = 0; i < bits; ++i) {
      if (used_ == 0) out_.push_back(0);
      if ((value >> i) & 1) out_.back() = static_cast<char>(out_.back() | (1 << used_));
      used_ = (used_ + 1) % 8;
    }
  }
  void AlignAndAppend(absl::string_view bytes) {
    used_ = 0;
    out_.append(bytes.data(), bytes.size());
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
  int used_ = 0;
};

}  // namespace

std::string Gzip(absl::string_view text) {
  bool given = false;
  return GzipStream([&]() -> absl::string_view {
    if (given) return "";
    given = true;
    return text;
  });
}

std::string GzipOfZeros(size_t size) {
  static const std::string zeros(1 << 20, '\0');
  size_t left = size;
  return GzipStream([&]() -> absl::string_view {
    const size_t piece = std::min(left, zeros.size());
    left -= piece;
    return absl::string_view(zeros.data(), piece);
  });
}

std::string BrotliStored(absl::string_view text) {
  constexpr size_t kMaxBlock = 1 << 16;  // Four nibbles of MLEN - 1.
  BitWriter writer;
  writer.Write(0, 1);  // WBITS = 16.
  while (!text.empty()) {
    const absl::string_view block = text.substr(0, kMaxBlock);
    text.remove_prefix(block.size());
    writer.Write(0, 1);  // ISLAST = 0.
    writer.Write(0, 2);  // MNIBBLES = 4.
    writer.Write(static_cast<uint32_t>(block.size() - 1), 16);
    writer.Write(1, 1);  // ISUNCOMPRESSED = 1; the data starts at the next byte boundary.
    writer.AlignAndAppend(block);
  }
  writer.Write(1, 1);  // ISLAST = 1.
  writer.Write(1, 1);  // ISLASTEMPTY = 1.
  return writer.Take();
}

}  // namespace agentauth::testing
