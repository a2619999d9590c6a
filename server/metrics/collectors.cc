#include "server/metrics/collectors.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace agentauth {
namespace {

prometheus::MetricFamily Family(const std::string& name, const std::string& help,
                                prometheus::MetricType type) {
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  return family;
}

prometheus::ClientMetric Sample(std::vector<prometheus::ClientMetric::Label> labels, double value,
                                prometheus::MetricType type) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return metric;
}

constexpr const char* kStates[] = {"idle", "ok", "refreshing", "degraded", "failing"};

// Fields of /proc/self/stat after the command name, which may itself contain spaces.
std::vector<std::string> ProcStatFields() {
  std::ifstream file("/proc/self/stat");
  std::string line;
  std::getline(file, line);
  const size_t end_of_name = line.rfind(')');
  std::vector<std::string> fields;
  if (end_of_name == std::string::npos) return fields;
  std::istringstream rest(line.substr(end_of_name + 2));
  for (std::string field; rest >> field;) fields.push_back(field);
  return fields;
}

double BootTimeUnix() {
  std::ifstream file("/proc/stat");
  for (std::string key; file >> key;) {
    if (key == "btime") {
      double seconds = 0;
      file >> seconds;
      return seconds;
    }
  }
  return 0;
}

double OpenFileDescriptors() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  double count = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count - 1;  // The descriptor opendir itself holds.
}

}  // namespace

ClientStateCollector::ClientStateCollector(std::function<std::vector<ClientGauges>()> read)
    : read_(std::move(read)) {}

std::vector<prometheus::MetricFamily> ClientStateCollector::Collect() const {
  using prometheus::MetricType;
  auto expiry = Family("agentauth_token_expiry_seconds",
                       "Seconds until the client's primary token expires.", MetricType::Gauge);
  auto refresh = Family("agentauth_token_last_refresh_timestamp_seconds",
                        "Unix time of the client's last successful fetch.", MetricType::Gauge);
  auto failures = Family("agentauth_client_consecutive_failures",
                         "Fetches of the client that failed in a row.", MetricType::Gauge);
  auto state = Family("agentauth_client_state",
                      "1 for the client's current state, 0 for the others.", MetricType::Gauge);
  auto discovery = Family("agentauth_discovery_age_seconds",
                          "Age of the discovery document the client uses.", MetricType::Gauge);

  for (const ClientGauges& client : read_()) {
    const std::vector<prometheus::ClientMetric::Label> labels = {{"client", client.client}};
    if (client.expiry_seconds) {
      expiry.metric.push_back(Sample(labels, *client.expiry_seconds, MetricType::Gauge));
    }
    if (client.last_refresh_unix) {
      refresh.metric.push_back(Sample(labels, *client.last_refresh_unix, MetricType::Gauge));
    }
    failures.metric.push_back(Sample(labels, client.consecutive_failures, MetricType::Gauge));
    for (const char* name : kStates) {
      state.metric.push_back(Sample({{"client", client.client}, {"state", name}},
                                    client.state == name ? 1 : 0, MetricType::Gauge));
    }
    if (client.discovery_age_seconds) {
      discovery.metric.push_back(Sample(labels, *client.discovery_age_seconds, MetricType::Gauge));
    }
  }
  return {expiry, refresh, failures, state, discovery};
}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  using prometheus::MetricType;
  const std::vector<std::string> stat = ProcStatFields();
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));

  // After the name: state is field 3 of stat(5), so field N sits at index N - 3.
  const auto field = [&](size_t number) {
    return stat.size() > number - 3 ? std::stod(stat[number - 3]) : 0.0;
  };
  rlimit limit = {};
  getrlimit(RLIMIT_NOFILE, &limit);

  auto cpu = Family("process_cpu_seconds_total", "User and system CPU time spent in seconds.",
                    MetricType::Counter);
  cpu.metric.push_back(Sample({}, (field(14) + field(15)) / ticks, MetricType::Counter));
  auto memory =
      Family("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::Gauge);
  memory.metric.push_back(Sample({}, field(24) * page, MetricType::Gauge));
  auto start = Family("process_start_time_seconds",
                      "Start time of the process since unix epoch in seconds.", MetricType::Gauge);
  start.metric.push_back(Sample({}, BootTimeUnix() + field(22) / ticks, MetricType::Gauge));
  auto fds = Family("process_open_fds", "Number of open file descriptors.", MetricType::Gauge);
  fds.metric.push_back(Sample({}, OpenFileDescriptors(), MetricType::Gauge));
  auto max_fds =
      Family("process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge);
  max_fds.metric.push_back(Sample({}, static_cast<double>(limit.rlim_cur), MetricType::Gauge));
  return {cpu, memory, start, fds, max_fds};
}

}  // namespace agentauth
