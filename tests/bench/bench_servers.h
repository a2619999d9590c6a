// Starting the servers a benchmark measures, as separate processes: agentauthd with a generated
// config, and the no-op baseline server. Also what a scenario asks them from outside: health,
// GetStatus and Prometheus metrics.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/testing/child_process.h"

namespace agentauth::bench {

// The secret every benchmark client uses, passed to agentauthd in this environment variable.
inline constexpr char kSecretEnv[] = "AGENTAUTH_BENCH_SECRET";

// What a generated agentauthd config holds: `clients` clients named <name_prefix>0, 1, ...
struct DaemonSetup {
  int clients = 1;
  std::string name_prefix = "client-";
  // Discovery at <authority>/.well-known/openid-configuration, unless token_endpoint is set.
  std::string authority;
  std::string token_endpoint;
  std::string client_id = "bench-agent";
  std::string secret = "bench-secret";
  std::string scope = "bench.read";
  bool prewarm = true;
  int max_concurrent_fetches = 8;
};

// The config file's JSON: gRPC and metrics on loopback ports the system picks.
std::string DaemonConfigJson(const DaemonSetup& setup);
// The names DaemonConfigJson gives the clients.
std::vector<std::string> ClientNames(const DaemonSetup& setup);

// A server process and what it said when it started listening.
struct ServerProcess {
  std::unique_ptr<testing::ChildProcess> process;
  std::string address;      // host:port of gRPC.
  std::string metrics_url;  // http://host:port/metrics; empty for the no-op server.
  pid_t pid() const { return process->pid(); }
};

// Starts `argv` and waits (up to `timeout`) for its JSON "listening" line on stderr, which
// names the address. `env` is added to the environment.
absl::StatusOr<ServerProcess> StartServer(
    const std::vector<std::string>& argv,
    const std::vector<std::pair<std::string, std::string>>& env, absl::Duration timeout);

// Writes `setup`'s config into `dir` and starts agentauthd on it as it runs in production:
// metrics on, logs at info level (in JSON, to read the listening address).
absl::StatusOr<ServerProcess> StartDaemon(const std::string& agentauthd, const std::string& dir,
                                          const DaemonSetup& setup);

// Waits until grpc.health.v1 says SERVING for the whole server. DEADLINE_EXCEEDED after
// `timeout`.
absl::Status WaitUntilServing(const std::string& address, absl::Duration timeout);

// Calls GetStatus for every client on a connected channel and returns how many clients it
// listed and the median time of five calls.
struct StatusCall {
  int clients = 0;
  absl::Duration latency;
};
absl::StatusOr<StatusCall> CallGetStatus(const std::string& address);

// The sum of every sample of `metric` whose labels contain `label_text` (e.g.
// `result="miss"`), scraped from `metrics_url`. 0 when there is none.
absl::StatusOr<double> ScrapeSum(const std::string& metrics_url, const std::string& metric,
                                 const std::string& label_text);

}  // namespace agentauth::bench
