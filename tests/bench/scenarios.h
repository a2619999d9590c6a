// The six scenarios of the benchmark (issue 8). Each starts the processes it measures, records
// its figures in the report, and stops them again; a scenario that cannot run or gets a wrong
// answer returns an error instead of figures.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "tests/bench/report.h"

namespace agentauth::bench {

// How big each scenario is. Full() is what `make bench` runs; Smoke() runs every scenario in
// seconds, so that `make test` keeps the benchmark working.
struct BenchSize {
  int rounds = 3;
  absl::Duration hot_warmup = absl::Seconds(1);
  absl::Duration hot_duration = absl::Seconds(5);
  int fan_in_callers = 1000;
  absl::Duration fan_in_provider_latency = absl::Milliseconds(200);
  int refresh_clients = 1000;
  int refresh_token_lifetime_seconds = 20;
  absl::Duration refresh_warmup = absl::Seconds(1);
  // Long enough to hold every client's renewal at least once.
  absl::Duration refresh_duration = absl::Seconds(15);
  int many_clients = 10000;
  int64_t flat_calls_per_step = 1000000;
  int flat_steps = 5;
  int startup_clients = 10;

  static BenchSize Full() { return {}; }
  static BenchSize Smoke();
};

struct BenchContext {
  std::string agentauthd;   // Path of the daemon under test.
  std::string noop_server;  // Path of agentauth_bench_noop_server.
  std::string dir;          // Where config files go.
  BenchSize size;
  int connections = 4;  // Of the closed-loop load generator.
  int calls_in_flight = 32;
  int max_concurrent_fetches = 8;
  Report* report = nullptr;
};

absl::Status RunHotPath(const BenchContext& context);
absl::Status RunColdFanIn(const BenchContext& context);
absl::Status RunRefreshUnderLoad(const BenchContext& context);
absl::Status RunManyClients(const BenchContext& context);
absl::Status RunStayingFlat(const BenchContext& context);
absl::Status RunStartup(const BenchContext& context);

}  // namespace agentauth::bench
