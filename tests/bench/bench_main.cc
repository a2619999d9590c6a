// agentauth_bench: runs the benchmark scenarios of issue 8 against agentauthd and the no-op
// baseline server, prints one table and writes the figures as JSON. docs/benchmarks.md tells how
// to read and rerun it.
//
//   agentauth_bench [--size full|smoke] [--rounds N] [--scenarios 1,2,3,4,5,6]
//                   [--connections N] [--calls-in-flight N] [--output FILE]
//                   [--agentauthd PATH] [--noop-server PATH]
//
// Exits 0 when every scenario ran and answered correctly (missed targets are reported in the
// table, not in the exit code: timings on a shared machine are no test), 1 otherwise, 2 on a
// usage error.
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/bench/report.h"
#include "tests/bench/scenarios.h"
#include "tests/testing/temp_dir.h"

namespace agentauth::bench {
namespace {

struct Arguments {
  BenchContext context;
  std::set<int> scenarios = {1, 2, 3, 4, 5, 6};
  std::string output = "bench-results.json";
  std::string size_name = "full";
};

constexpr char kUsage[] =
    "usage: agentauth_bench [--size full|smoke] [--rounds N] [--scenarios 1,2,3,4,5,6]\n"
    "                       [--connections N] [--calls-in-flight N] [--output FILE]\n"
    "                       [--agentauthd PATH] [--noop-server PATH]\n";

bool ParsePositive(const std::string& text, int& out) {
  return absl::SimpleAtoi(text, &out) && out > 0;
}

bool ParseArguments(int argc, char** argv, Arguments& arguments) {
  BenchContext& context = arguments.context;
  context.agentauthd = AGENTAUTH_BENCH_AGENTAUTHD;
  context.noop_server = AGENTAUTH_BENCH_NOOP_SERVER;
  int rounds = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return false;
    const std::string value = argv[++i];
    if (flag == "--size" && (value == "full" || value == "smoke")) {
      arguments.size_name = value;
    } else if (flag == "--rounds" && ParsePositive(value, rounds)) {
    } else if (flag == "--connections" && ParsePositive(value, context.connections)) {
    } else if (flag == "--calls-in-flight" && ParsePositive(value, context.calls_in_flight)) {
    } else if (flag == "--output") {
      arguments.output = value;
    } else if (flag == "--agentauthd") {
      context.agentauthd = value;
    } else if (flag == "--noop-server") {
      context.noop_server = value;
    } else if (flag == "--scenarios") {
      arguments.scenarios.clear();
      for (absl::string_view part : absl::StrSplit(value, ',')) {
        int scenario = 0;
        if (!absl::SimpleAtoi(part, &scenario) || scenario < 1 || scenario > 6) return false;
        arguments.scenarios.insert(scenario);
      }
    } else {
      return false;
    }
  }
  context.size = arguments.size_name == "smoke" ? BenchSize::Smoke() : BenchSize::Full();
  if (rounds > 0) context.size.rounds = rounds;
  return true;
}

std::string MachineDescription() {
  std::string model = "unknown CPU";
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  utsname system = {};
  uname(&system);
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  return absl::StrCat(sysconf(_SC_NPROCESSORS_ONLN), " cores, ", model, ", Linux ", system.release,
                      ", load average at start ", load[0]);
}

int Main(int argc, char** argv) {
  Arguments arguments;
  if (argc == 2 && std::string(argv[1]) == "--help") {
    std::cout << kUsage;
    return 0;
  }
  if (!ParseArguments(argc, argv, arguments)) {
    std::cerr << kUsage;
    return 2;
  }
  testing::TempDir dir;
  Report report;
  BenchContext& context = arguments.context;
  context.dir = dir.path();
  context.report = &report;

  const std::vector<std::pair<std::string, std::function<absl::Status(const BenchContext&)>>>
      scenarios = {{"1 hot path", RunHotPath},
                   {"2 cold fan-in", RunColdFanIn},
                   {"3 refresh under load", RunRefreshUnderLoad},
                   {"4 many clients", RunManyClients},
                   {"5 staying flat", RunStayingFlat},
                   {"6 start-up", RunStartup}};
  const std::string machine = MachineDescription();
  std::cerr << "agentauth_bench: " << arguments.size_name << " size, " << context.size.rounds
            << " rounds, " << context.connections << " connections, " << context.calls_in_flight
            << " calls in flight; " << machine << "\n";
  for (size_t i = 0; i < scenarios.size(); ++i) {
    if (arguments.scenarios.count(static_cast<int>(i) + 1) == 0) continue;
    const auto& [name, run] = scenarios[i];
    std::cerr << "agentauth_bench: running " << name << "\n";
    const absl::Time start = absl::Now();
    if (absl::Status status = run(context); !status.ok()) {
      report.AddError(name, std::string(status.message()));
    }
    std::cerr << "agentauth_bench: " << name << " took "
              << absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Milliseconds(100)))
              << "\n";
  }

  report.PrintTable(std::cout);
  const std::string settings =
      absl::StrCat(arguments.size_name, " size, ", context.size.rounds, " rounds, ",
                   context.connections, " connections, ", context.calls_in_flight,
                   " calls in flight, max_concurrent_fetches ", context.max_concurrent_fetches);
  std::ofstream(arguments.output, std::ios::trunc) << report.Json(machine, settings) << "\n";
  std::cout << "wrote " << arguments.output << "; " << report.MissedTargets()
            << " target(s) missed, " << report.errors().size() << " error(s)\n";
  return report.errors().empty() ? 0 : 1;
}

}  // namespace
}  // namespace agentauth::bench

int main(int argc, char** argv) { return agentauth::bench::Main(argc, argv); }
