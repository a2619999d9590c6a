// Scenarios under a closed-loop load: 1 hot path, 3 refresh under load, 5 staying flat.
#include <memory>
#include <vector>

#include "tests/bench/bench_provider.h"
#include "tests/bench/process_stats.h"
#include "tests/bench/scenario_support.h"
#include "tests/bench/scenarios.h"

namespace agentauth::bench {
namespace {

using Compare = Figure::Compare;
using TargetOn = Figure::TargetOn;

LoadGenerator::Options LoadOptions(const BenchContext& context, const ServerProcess& server,
                                   std::vector<std::string> clients) {
  LoadGenerator::Options options;
  options.target = server.address;
  options.connections = context.connections;
  options.calls_in_flight = context.calls_in_flight;
  options.clients = std::move(clients);
  options.server_pid = server.pid();
  return options;
}

}  // namespace

absl::Status RunHotPath(const BenchContext& context) {
  BENCH_ASSIGN_OR_RETURN(std::unique_ptr<BenchProvider> provider, BenchProvider::Start({}));
  DaemonSetup setup;
  setup.name_prefix = "hot-";
  setup.authority = provider->base_url();
  setup.max_concurrent_fetches = context.max_concurrent_fetches;
  BENCH_ASSIGN_OR_RETURN(ServerProcess daemon, StartDaemon(context.agentauthd, context.dir, setup));
  AGENTAUTH_RETURN_IF_ERROR(WaitUntilServing(daemon.address, absl::Seconds(60)));
  BENCH_ASSIGN_OR_RETURN(ServerProcess noop,
                         StartServer({context.noop_server}, {}, absl::Seconds(30)));

  BENCH_ASSIGN_OR_RETURN(std::unique_ptr<LoadGenerator> baseline_load,
                         LoadGenerator::Connect(LoadOptions(context, noop, ClientNames(setup))));
  BENCH_ASSIGN_OR_RETURN(std::unique_ptr<LoadGenerator> daemon_load,
                         LoadGenerator::Connect(LoadOptions(context, daemon, ClientNames(setup))));

  const std::string scenario = "1 hot path";
  Figure rate{scenario, "calls/s", "calls/s"};
  rate.target_on = TargetOn::kRatio;
  rate.compare = Compare::kAtLeast;
  rate.target = 0.95;
  Figure cpu{scenario, "server CPU per call", "us"};
  cpu.target_on = TargetOn::kRatio;
  cpu.target = 1.10;
  Figure p50{scenario, "latency p50", "us"};
  Figure p90{scenario, "latency p90", "us"};
  Figure p99{scenario, "latency p99", "us"};
  p99.target_on = TargetOn::kRatio;
  p99.target = 1.20;
  Figure p999{scenario, "latency p99.9", "us"};

  // Baseline and subject alternate, so that a change in the machine's load between rounds
  // hits both alike.
  for (int round = 0; round < context.size.rounds; ++round) {
    for (const bool is_baseline : {true, false}) {
      LoadGenerator& load = is_baseline ? *baseline_load : *daemon_load;
      BENCH_ASSIGN_OR_RETURN(LoadResult result,
                             load.RunFor(context.size.hot_warmup, context.size.hot_duration));
      AGENTAUTH_RETURN_IF_ERROR(CheckNoErrors(result, is_baseline ? "no-op server" : "agentauthd"));
      const auto add = [&](Figure& figure, double value) {
        (is_baseline ? figure.baseline : figure.subject).push_back(value);
      };
      add(rate, result.calls_per_second);
      add(cpu, result.server_cpu_us_per_call);
      add(p50, result.p50_us);
      add(p90, result.p90_us);
      add(p99, result.p99_us);
      add(p999, result.p999_us);
    }
  }
  for (Figure* figure : {&rate, &cpu, &p50, &p90, &p99, &p999}) {
    context.report->Add(std::move(*figure));
  }

  baseline_load.reset();
  daemon_load.reset();
  AGENTAUTH_RETURN_IF_ERROR(StopServer(noop, "the no-op server"));
  return StopServer(daemon, "agentauthd");
}

absl::Status RunRefreshUnderLoad(const BenchContext& context) {
  const std::string scenario = "3 refresh under load";
  Figure p99{scenario, "latency p99", "us"};
  p99.target_on = TargetOn::kRatio;
  p99.target = 1.20;
  Figure p50{scenario, "latency p50", "us"};
  Figure rate{scenario, "calls/s", "calls/s"};
  Figure waited{scenario, "callers that waited on the provider", ""};
  waited.target_on = TargetOn::kSubject;
  waited.target = 0;
  waited.note = "agentauth_token_requests_total with result miss or error, after start-up";
  Figure renewals{scenario, "renewals during the run", ""};
  renewals.note = "token requests the provider received after start-up";

  const int lifetime = context.size.refresh_token_lifetime_seconds;
  for (int round = 0; round < context.size.rounds; ++round) {
    for (const bool is_baseline : {true, false}) {
      BenchProvider::Options provider_options;
      provider_options.expires_in_seconds = is_baseline ? 3600 : lifetime;
      BENCH_ASSIGN_OR_RETURN(std::unique_ptr<BenchProvider> provider,
                             BenchProvider::Start(provider_options));
      DaemonSetup setup;
      setup.clients = context.size.refresh_clients;
      setup.name_prefix = "refresh-";
      setup.authority = provider->base_url();
      setup.max_concurrent_fetches = context.max_concurrent_fetches;
      BENCH_ASSIGN_OR_RETURN(ServerProcess daemon,
                             StartDaemon(context.agentauthd, context.dir, setup));
      AGENTAUTH_RETURN_IF_ERROR(WaitUntilServing(daemon.address, absl::Seconds(120)));
      const int prewarm_requests = provider->token_requests();

      BENCH_ASSIGN_OR_RETURN(
          std::unique_ptr<LoadGenerator> load,
          LoadGenerator::Connect(LoadOptions(context, daemon, ClientNames(setup))));
      BENCH_ASSIGN_OR_RETURN(LoadResult result, load->RunFor(context.size.refresh_warmup,
                                                             context.size.refresh_duration));
      AGENTAUTH_RETURN_IF_ERROR(CheckNoErrors(result, "agentauthd"));
      BENCH_ASSIGN_OR_RETURN(
          double misses,
          ScrapeSum(daemon.metrics_url, "agentauth_token_requests_total", "result=\"miss\""));
      BENCH_ASSIGN_OR_RETURN(
          double errors,
          ScrapeSum(daemon.metrics_url, "agentauth_token_requests_total", "result=\"error\""));

      const auto add = [&](Figure& figure, double value) {
        (is_baseline ? figure.baseline : figure.subject).push_back(value);
      };
      add(p99, result.p99_us);
      add(p50, result.p50_us);
      add(rate, result.calls_per_second);
      add(waited, misses + errors);
      add(renewals, provider->token_requests() - prewarm_requests);
      load.reset();
      AGENTAUTH_RETURN_IF_ERROR(StopServer(daemon, "agentauthd"));
    }
  }
  if (SpreadOf(renewals.subject).min == 0) {
    context.report->AddError(scenario, "no token was renewed while the load ran");
  }
  for (Figure* figure : {&p99, &p50, &rate, &waited, &renewals}) {
    context.report->Add(std::move(*figure));
  }
  return absl::OkStatus();
}

absl::Status RunStayingFlat(const BenchContext& context) {
  BENCH_ASSIGN_OR_RETURN(std::unique_ptr<BenchProvider> provider, BenchProvider::Start({}));
  DaemonSetup setup;
  setup.name_prefix = "flat-";
  setup.authority = provider->base_url();
  setup.max_concurrent_fetches = context.max_concurrent_fetches;
  BENCH_ASSIGN_OR_RETURN(ServerProcess daemon, StartDaemon(context.agentauthd, context.dir, setup));
  AGENTAUTH_RETURN_IF_ERROR(WaitUntilServing(daemon.address, absl::Seconds(60)));
  BENCH_ASSIGN_OR_RETURN(std::unique_ptr<LoadGenerator> load,
                         LoadGenerator::Connect(LoadOptions(context, daemon, ClientNames(setup))));

  std::vector<ProcessSample> after_step;
  std::vector<double> rates;
  for (int step = 0; step < context.size.flat_steps; ++step) {
    BENCH_ASSIGN_OR_RETURN(LoadResult result, load->RunCalls(context.size.flat_calls_per_step));
    AGENTAUTH_RETURN_IF_ERROR(CheckNoErrors(result, "agentauthd"));
    BENCH_ASSIGN_OR_RETURN(ProcessSample sample, SampleProcess(daemon.pid()));
    after_step.push_back(sample);
    rates.push_back(result.calls_per_second);
  }

  const std::string scenario = "5 staying flat";
  const std::string calls =
      absl::StrCat(context.size.flat_steps, " x ", context.size.flat_calls_per_step, " calls");
  Figure resident{scenario, "RSS after the first step", "MiB"};
  resident.subject = {static_cast<double>(after_step.front().resident_bytes) / kMiB};
  resident.note = calls;
  Figure growth{scenario, "RSS growth, first to last step", "MiB"};
  growth.subject = {
      static_cast<double>(after_step.back().resident_bytes - after_step.front().resident_bytes) /
      kMiB};
  growth.target_on = TargetOn::kSubject;
  growth.compare = Compare::kLessThan;
  growth.target = 2;
  growth.note = calls;
  Figure fds{scenario, "open fd growth, first to last step", ""};
  fds.subject = {static_cast<double>(after_step.back().open_fds - after_step.front().open_fds)};
  fds.target_on = TargetOn::kSubject;
  fds.target = 0;
  Figure rate{scenario, "calls/s", "calls/s"};
  rate.subject = rates;
  rate.note = "one value per step";
  for (Figure* figure : {&resident, &growth, &fds, &rate}) {
    context.report->Add(std::move(*figure));
  }

  load.reset();
  return StopServer(daemon, "agentauthd");
}

}  // namespace agentauth::bench
