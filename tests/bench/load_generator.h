// A closed-loop load generator for agentauth.v1.TokenService/GetAccessToken on gRPC's callback
// API: a fixed number of calls in flight spread over separate connections, each call started as
// soon as the previous one of its slot finished. It reports calls per second, latency
// percentiles and, when given the server's pid, the server's CPU seconds per call.
#pragma once

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/bench/process_stats.h"

namespace agentauth::bench {

struct LoadResult {
  int64_t calls = 0;  // Completed in the measured window, successful or not.
  int64_t errors = 0;
  std::string first_error;
  double seconds = 0;
  double calls_per_second = 0;
  // Latency of the successful calls of the window, in microseconds.
  double p50_us = 0;
  double p90_us = 0;
  double p99_us = 0;
  double p999_us = 0;
  double max_us = 0;
  // utime + stime the server used during the window, and per call (0 without a pid).
  double server_cpu_seconds = 0;
  double server_cpu_us_per_call = 0;
};

// Latency percentile `quantile` (0-1) of `samples`, which it reorders. 0 when empty.
double Percentile(std::vector<float>& samples, double quantile);

// Opens `connections` channels to `target`, each with its own subchannel (and so its own TCP
// connection), waits until all are connected, and then runs closed loops on demand.
//
// Not thread-safe: one Run at a time.
class LoadGenerator {
 public:
  struct Options {
    std::string target;
    int connections = 4;
    int calls_in_flight = 32;
    // Asked for in turn, one name per call.
    std::vector<std::string> clients;
    // The server whose CPU time is measured; 0: not measured.
    pid_t server_pid = 0;
  };

  // UNAVAILABLE when a connection cannot be made within 10 s.
  static absl::StatusOr<std::unique_ptr<LoadGenerator>> Connect(const Options& options);
  ~LoadGenerator();

  // Runs `warmup` without measuring, then measures for `duration`.
  absl::StatusOr<LoadResult> RunFor(absl::Duration warmup, absl::Duration duration);
  // Measures exactly `calls` completed calls (no warm-up).
  absl::StatusOr<LoadResult> RunCalls(int64_t calls);

  const std::vector<std::shared_ptr<grpc::Channel>>& channels() const { return channels_; }

 private:
  struct Slot;
  struct Shared;

  explicit LoadGenerator(const Options& options);
  absl::StatusOr<LoadResult> Run(absl::Duration warmup, absl::Duration duration, int64_t calls);
  // The server's /proc figures now; an empty sample without a pid.
  absl::StatusOr<ProcessSample> SampleServer() const;
  // Fills the latency, error and per-call figures of `result` from the stopped slots.
  static void Summarize(const std::vector<std::unique_ptr<Slot>>& slots, LoadResult& result);

  Options options_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
};

// Starts `callers` GetAccessToken calls for `client` at once over `channels`, waits for all of
// them, and returns each one's latency in microseconds (successful or not); `errors` counts the
// failed ones and `first_error` tells the first.
struct BurstResult {
  std::vector<float> latencies_us;
  int errors = 0;
  std::string first_error;
};
BurstResult FireBurst(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                      const std::string& client, int callers);

}  // namespace agentauth::bench
