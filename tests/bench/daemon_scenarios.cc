// Scenarios about the daemon's work with providers and many clients: 2 cold fan-in, 4 many
// clients, 6 start-up.
#include <memory>
#include <vector>

#include "tests/bench/bench_provider.h"
#include "tests/bench/process_stats.h"
#include "tests/bench/scenario_support.h"
#include "tests/bench/scenarios.h"
#include "tests/testing/dev_idp.h"

namespace agentauth::bench {
namespace {

using Compare = Figure::Compare;
using TargetOn = Figure::TargetOn;

double Millis(absl::Duration duration) { return absl::ToDoubleMilliseconds(duration); }

}  // namespace

absl::Status RunColdFanIn(const BenchContext& context) {
  BenchProvider::Options provider_options;
  provider_options.token_latency = context.size.fan_in_provider_latency;
  BENCH_ASSIGN_OR_RETURN(std::unique_ptr<BenchProvider> provider,
                         BenchProvider::Start(provider_options));
  // One cold client per round; the token endpoint is configured, so that the single token
  // request is the only request the provider sees.
  DaemonSetup setup;
  setup.clients = context.size.rounds;
  setup.name_prefix = "cold-";
  setup.authority = provider->base_url();
  setup.token_endpoint = provider->base_url() + "/token";
  setup.prewarm = false;
  setup.max_concurrent_fetches = context.max_concurrent_fetches;
  BENCH_ASSIGN_OR_RETURN(ServerProcess daemon, StartDaemon(context.agentauthd, context.dir, setup));
  AGENTAUTH_RETURN_IF_ERROR(WaitUntilServing(daemon.address, absl::Seconds(60)));
  LoadGenerator::Options channel_options;
  channel_options.target = daemon.address;
  channel_options.connections = context.connections;
  channel_options.clients = ClientNames(setup);
  BENCH_ASSIGN_OR_RETURN(std::unique_ptr<LoadGenerator> callers,
                         LoadGenerator::Connect(channel_options));

  const std::string scenario = "2 cold fan-in";
  const double latency_ms = Millis(context.size.fan_in_provider_latency);
  Figure requests{scenario, "provider requests", ""};
  requests.target_on = TargetOn::kSubject;
  requests.target = 1;
  requests.note = absl::StrCat(context.size.fan_in_callers, " callers of one cold client");
  Figure slowest{scenario, "slowest caller", "ms"};
  slowest.target_on = TargetOn::kSubject;
  slowest.target = latency_ms + 50;
  slowest.note = "baseline: the provider's latency";
  Figure median{scenario, "median caller", "ms"};

  for (int round = 0; round < context.size.rounds; ++round) {
    const int before = provider->token_requests() + provider->discovery_requests();
    BurstResult burst =
        FireBurst(callers->channels(), ClientNames(setup)[static_cast<size_t>(round)],
                  context.size.fan_in_callers);
    if (burst.errors > 0) {
      return absl::InternalError(absl::StrCat(burst.errors, " of ", context.size.fan_in_callers,
                                              " callers failed, the first with ",
                                              burst.first_error));
    }
    const int sent = provider->token_requests() + provider->discovery_requests() - before;
    if (sent != 1) {
      context.report->AddError(scenario, absl::StrCat(sent, " provider requests instead of 1"));
    }
    requests.subject.push_back(sent);
    slowest.baseline.push_back(latency_ms);
    slowest.subject.push_back(Percentile(burst.latencies_us, 1.0) / 1000);
    median.baseline.push_back(latency_ms);
    median.subject.push_back(Percentile(burst.latencies_us, 0.5) / 1000);
  }
  for (Figure* figure : {&requests, &slowest, &median}) context.report->Add(std::move(*figure));

  callers.reset();
  return StopServer(daemon, "agentauthd");
}

absl::Status RunManyClients(const BenchContext& context) {
  const std::string scenario = "4 many clients";
  const int many = context.size.many_clients;
  Figure warm{scenario, "exec to all warm", "s"};
  warm.note = absl::StrCat("baseline: 1 client; agentauthd: ", many, " clients");
  Figure resident{scenario, "RSS after warm-up", "MiB"};
  Figure extra{scenario, "RSS over the 1-client daemon", "MiB"};
  extra.target_on = TargetOn::kSubject;
  extra.target = 64;
  Figure status{scenario, "GetStatus of all clients", "ms"};
  status.target_on = TargetOn::kSubject;
  status.target = 50;
  Figure concurrency{scenario, "provider concurrency, highest", ""};
  concurrency.target_on = TargetOn::kSubject;
  concurrency.target = context.max_concurrent_fetches;
  concurrency.note = "token requests in flight at once, seen by the provider";

  for (int round = 0; round < context.size.rounds; ++round) {
    double baseline_resident = 0;
    for (const bool is_baseline : {true, false}) {
      BENCH_ASSIGN_OR_RETURN(std::unique_ptr<BenchProvider> provider, BenchProvider::Start({}));
      DaemonSetup setup;
      setup.clients = is_baseline ? 1 : many;
      setup.name_prefix = "many-";
      setup.authority = provider->base_url();
      setup.max_concurrent_fetches = context.max_concurrent_fetches;

      const absl::Time start = absl::Now();
      BENCH_ASSIGN_OR_RETURN(ServerProcess daemon,
                             StartDaemon(context.agentauthd, context.dir, setup));
      AGENTAUTH_RETURN_IF_ERROR(WaitUntilServing(daemon.address, absl::Minutes(10)));
      const absl::Duration to_warm = absl::Now() - start;
      BENCH_ASSIGN_OR_RETURN(ProcessSample sample, SampleProcess(daemon.pid()));
      BENCH_ASSIGN_OR_RETURN(StatusCall call, CallGetStatus(daemon.address));
      if (call.clients != setup.clients) {
        return absl::InternalError(
            absl::StrCat("GetStatus listed ", call.clients, " of ", setup.clients, " clients"));
      }
      if (provider->token_requests() < setup.clients) {
        return absl::InternalError(absl::StrCat("SERVING after ", provider->token_requests(),
                                                " token requests for ", setup.clients, " clients"));
      }

      const double resident_mib = static_cast<double>(sample.resident_bytes) / kMiB;
      const auto add = [&](Figure& figure, double value) {
        (is_baseline ? figure.baseline : figure.subject).push_back(value);
      };
      add(warm, absl::ToDoubleSeconds(to_warm));
      add(resident, resident_mib);
      add(status, Millis(call.latency));
      add(concurrency, provider->max_concurrent_token_requests());
      if (is_baseline) {
        baseline_resident = resident_mib;
      } else {
        extra.subject.push_back(resident_mib - baseline_resident);
      }
      AGENTAUTH_RETURN_IF_ERROR(StopServer(daemon, "agentauthd"));
    }
  }
  for (Figure* figure : {&warm, &resident, &extra, &status, &concurrency}) {
    context.report->Add(std::move(*figure));
  }
  return absl::OkStatus();
}

absl::Status RunStartup(const BenchContext& context) {
  BENCH_ASSIGN_OR_RETURN(std::unique_ptr<testing::DevIdp> idp, testing::DevIdp::Start({}));
  DaemonSetup setup;
  setup.clients = context.size.startup_clients;
  setup.name_prefix = "startup-";
  setup.authority = idp->issuer();
  setup.client_id = testing::kBasicClientId;
  setup.secret = testing::kBasicClientSecret;
  setup.scope = "itwin-platform";
  setup.max_concurrent_fetches = context.max_concurrent_fetches;

  Figure startup{"6 start-up", "exec to health SERVING", "ms"};
  startup.note = absl::StrCat("baseline: the no-op server; agentauthd: ", setup.clients,
                              " clients prewarmed against the dev IdP");
  for (int round = 0; round < context.size.rounds; ++round) {
    for (const bool is_baseline : {true, false}) {
      const absl::Time start = absl::Now();
      BENCH_ASSIGN_OR_RETURN(ServerProcess server,
                             is_baseline ? StartServer({context.noop_server}, {}, absl::Seconds(30))
                                         : StartDaemon(context.agentauthd, context.dir, setup));
      AGENTAUTH_RETURN_IF_ERROR(WaitUntilServing(server.address, absl::Seconds(60)));
      (is_baseline ? startup.baseline : startup.subject).push_back(Millis(absl::Now() - start));
      AGENTAUTH_RETURN_IF_ERROR(
          StopServer(server, is_baseline ? "the no-op server" : "agentauthd"));
    }
  }
  context.report->Add(std::move(startup));
  return absl::OkStatus();
}

}  // namespace agentauth::bench
