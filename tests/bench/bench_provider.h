// The OpenID provider of the benchmarks: discovery and a token endpoint on 127.0.0.1 that answer
// every request the same way after a fixed latency, and count what the daemon asked for,
// including how many token requests were being answered at once (the provider concurrency the
// daemon caused). Unlike tests/testing/fault_provider it keeps no per-request record and no
// thread per finished connection, so ten thousand fetches cost it nothing that grows.
//
// Thread-safe. The destructor stops accepting, ends the connections in flight and waits for
// their threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace agentauth::bench {

class BenchProvider {
 public:
  struct Options {
    // Waited before each token answer; discovery is answered at once.
    absl::Duration token_latency = absl::ZeroDuration();
    // expires_in of every token.
    int expires_in_seconds = 3600;
    // Length of every access token (opaque, URL-safe characters).
    size_t token_bytes = 1024;
  };

  // Listens on 127.0.0.1 at a port the system picks. UNAVAILABLE when it cannot.
  static absl::StatusOr<std::unique_ptr<BenchProvider>> Start(const Options& options);
  ~BenchProvider();
  BenchProvider(const BenchProvider&) = delete;
  BenchProvider& operator=(const BenchProvider&) = delete;

  // "http://127.0.0.1:<port>": the issuer of the discovery document, whose token endpoint is
  // base_url() + "/token".
  const std::string& base_url() const { return base_url_; }

  int token_requests() const { return token_requests_.load(); }
  int discovery_requests() const { return discovery_requests_.load(); }
  // The most token requests that were between "request read" and "answer sent" at once.
  int max_concurrent_token_requests() const { return max_concurrent_.load(); }

  // A token of the configured length, as the provider hands out (the n-th one).
  static std::string MakeToken(size_t bytes, uint64_t n);

 private:
  explicit BenchProvider(const Options& options) : options_(options) {}
  void AcceptLoop();
  void Serve(int fd);
  void AnswerToken(int fd);

  const Options options_;
  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  std::string base_url_;
  std::thread accept_thread_;

  std::atomic<int> token_requests_{0};
  std::atomic<int> discovery_requests_{0};
  std::atomic<int> concurrent_{0};
  std::atomic<int> max_concurrent_{0};

  std::mutex mutex_;
  std::condition_variable all_closed_;
  std::set<int> open_fds_;  // Guarded by mutex_; a connection thread runs for each.
  bool stopping_ = false;   // Guarded by mutex_.
};

}  // namespace agentauth::bench
