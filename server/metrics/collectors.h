// Metrics computed when Prometheus scrapes, rather than counted as events: the state of every
// client, and the process itself (read from /proc).
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace agentauth {

// What a scrape shows of one client.
struct ClientGauges {
  std::string client;
  std::optional<double> expiry_seconds;     // Until the primary token expires.
  std::optional<double> last_refresh_unix;  // Of the last successful fetch.
  double consecutive_failures = 0;
  std::string state;                            // idle, ok, refreshing, degraded, failing
  std::optional<double> discovery_age_seconds;  // Of the discovery document in use.
};

// agentauth_token_expiry_seconds, agentauth_token_last_refresh_timestamp_seconds,
// agentauth_client_consecutive_failures, agentauth_client_state (one series per state, 0/1) and
// agentauth_discovery_age_seconds, from `read` at every scrape. Thread-safe if `read` is.
class ClientStateCollector final : public prometheus::Collectable {
 public:
  explicit ClientStateCollector(std::function<std::vector<ClientGauges>()> read);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::function<std::vector<ClientGauges>()> read_;
};

// process_resident_memory_bytes, process_cpu_seconds_total, process_open_fds,
// process_max_fds and process_start_time_seconds, as the Prometheus client libraries name them.
class ProcessCollector final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace agentauth
