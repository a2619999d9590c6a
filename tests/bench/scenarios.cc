#include "tests/bench/scenarios.h"

namespace agentauth::bench {

BenchSize BenchSize::Smoke() {
  BenchSize size;
  size.rounds = 2;
  size.hot_warmup = absl::Milliseconds(100);
  size.hot_duration = absl::Milliseconds(300);
  size.fan_in_callers = 100;
  size.refresh_clients = 20;
  // Renewed about 2 s after each fetch; the run lasts long enough to see that happen.
  size.refresh_token_lifetime_seconds = 4;
  size.refresh_warmup = absl::Milliseconds(100);
  size.refresh_duration = absl::Milliseconds(2500);
  size.many_clients = 200;
  size.flat_calls_per_step = 2000;
  size.flat_steps = 3;
  size.startup_clients = 2;
  return size;
}

}  // namespace agentauth::bench
