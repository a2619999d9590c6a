#include "tests/bench/load_generator.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "agentauth/v1/token_service.grpc.pb.h"
#include "tests/bench/process_stats.h"

namespace agentauth::bench {
namespace {

using Stub = agentauth::v1::TokenService::Stub;
using SteadyClock = std::chrono::steady_clock;

constexpr auto kCallDeadline = std::chrono::seconds(10);

enum Phase : int { kWarmup = 0, kMeasure = 1, kStop = 2 };

float MicrosSince(SteadyClock::time_point start) {
  return std::chrono::duration<float, std::micro>(SteadyClock::now() - start).count();
}

std::shared_ptr<grpc::Channel> NewChannel(const std::string& target, int index) {
  grpc::ChannelArguments arguments;
  // Channels with equal arguments share subchannels, and so one TCP connection, through gRPC's
  // global pool: a local pool and an argument unique to this channel give each its own.
  arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  arguments.SetInt("agentauth.bench.channel_index", index);
  arguments.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), arguments);
}

}  // namespace

double Percentile(std::vector<float>& samples, double quantile) {
  if (samples.empty()) return 0;
  const size_t rank = std::min(samples.size() - 1,
                               static_cast<size_t>(quantile * static_cast<double>(samples.size())));
  std::nth_element(samples.begin(), samples.begin() + static_cast<ptrdiff_t>(rank), samples.end());
  return samples[rank];
}

// What every slot of a run shares with the thread that drives it.
struct LoadGenerator::Shared {
  std::atomic<int> phase{kWarmup};
  std::atomic<int64_t> completed{0};  // Completions seen in the measure phase.
  int64_t wanted_calls = 0;           // 0: the run is timed.

  std::mutex mutex;
  std::condition_variable changed;
  int active_slots = 0;  // Guarded by mutex.
  bool reached = false;  // Guarded by mutex: completed reached wanted_calls.
};

// One call in flight at a time, started again as soon as it finishes, until the run stops.
struct LoadGenerator::Slot {
  Stub* stub = nullptr;
  Shared* shared = nullptr;
  const std::vector<std::string>* clients = nullptr;
  size_t next_client = 0;

  std::unique_ptr<grpc::ClientContext> context;
  agentauth::v1::GetAccessTokenRequest request;
  agentauth::v1::GetAccessTokenResponse response;
  SteadyClock::time_point started;

  // Of the measure phase; read by the driver only after the slot went idle.
  std::vector<float> latencies_us;
  int64_t errors = 0;
  std::string first_error;

  void Start() {
    context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + kCallDeadline);
    request.set_client((*clients)[next_client]);
    next_client = (next_client + 1) % clients->size();
    started = SteadyClock::now();
    stub->async()->GetAccessToken(context.get(), &request, &response,
                                  [this](grpc::Status status) { Done(status); });
  }

  void Done(const grpc::Status& status) {
    const float elapsed = MicrosSince(started);
    if (shared->phase.load(std::memory_order_acquire) == kMeasure) {
      if (status.ok()) {
        latencies_us.push_back(elapsed);
      } else if (errors++ == 0) {
        first_error = absl::StrCat(status.error_code(), ": ", status.error_message());
      }
      const int64_t done = shared->completed.fetch_add(1, std::memory_order_relaxed) + 1;
      if (shared->wanted_calls > 0 && done == shared->wanted_calls) {
        std::lock_guard<std::mutex> lock(shared->mutex);
        shared->reached = true;
        shared->changed.notify_all();
      }
    }
    if (shared->phase.load(std::memory_order_acquire) != kStop) {
      Start();
      return;
    }
    std::lock_guard<std::mutex> lock(shared->mutex);
    --shared->active_slots;
    shared->changed.notify_all();
  }
};

LoadGenerator::LoadGenerator(const Options& options) : options_(options) {}

LoadGenerator::~LoadGenerator() = default;

absl::StatusOr<std::unique_ptr<LoadGenerator>> LoadGenerator::Connect(const Options& options) {
  if (options.connections < 1 || options.calls_in_flight < 1 || options.clients.empty()) {
    return absl::InvalidArgumentError(
        "the load generator needs at least one connection, one call in flight and one client");
  }
  std::unique_ptr<LoadGenerator> generator(new LoadGenerator(options));
  for (int i = 0; i < options.connections; ++i) {
    std::shared_ptr<grpc::Channel> channel = NewChannel(options.target, i);
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
      return absl::UnavailableError(absl::StrCat("cannot connect to ", options.target));
    }
    generator->channels_.push_back(std::move(channel));
  }
  return generator;
}

absl::StatusOr<LoadResult> LoadGenerator::RunFor(absl::Duration warmup, absl::Duration duration) {
  return Run(warmup, duration, 0);
}

absl::StatusOr<LoadResult> LoadGenerator::RunCalls(int64_t calls) {
  return Run(absl::ZeroDuration(), absl::ZeroDuration(), calls);
}

absl::StatusOr<LoadResult> LoadGenerator::Run(absl::Duration warmup, absl::Duration duration,
                                              int64_t calls) {
  std::vector<std::unique_ptr<Stub>> stubs;
  for (const auto& channel : channels_) {
    stubs.push_back(agentauth::v1::TokenService::NewStub(channel));
  }
  Shared shared;
  shared.wanted_calls = calls;
  std::vector<std::unique_ptr<Slot>> slots;
  for (int i = 0; i < options_.calls_in_flight; ++i) {
    auto slot = std::make_unique<Slot>();
    slot->stub = stubs[static_cast<size_t>(i) % stubs.size()].get();
    slot->shared = &shared;
    slot->clients = &options_.clients;
    slot->next_client = static_cast<size_t>(i) % options_.clients.size();
    slots.push_back(std::move(slot));
  }
  shared.active_slots = options_.calls_in_flight;
  for (auto& slot : slots) slot->Start();

  // The window's length is the measurement itself, not a wait for an event to happen.
  if (calls == 0) std::this_thread::sleep_for(absl::ToChronoNanoseconds(warmup));
  const absl::StatusOr<ProcessSample> before = SampleServer();
  const SteadyClock::time_point window_start = SteadyClock::now();
  shared.phase.store(kMeasure, std::memory_order_release);
  if (calls == 0) {
    std::this_thread::sleep_for(absl::ToChronoNanoseconds(duration));
  } else {
    std::unique_lock<std::mutex> lock(shared.mutex);
    shared.changed.wait(lock, [&] { return shared.reached; });
  }
  const int64_t completed = shared.completed.load();
  const SteadyClock::time_point window_end = SteadyClock::now();
  const absl::StatusOr<ProcessSample> after = SampleServer();

  // Every slot stops before `shared` and the slots go out of scope, whatever happened.
  shared.phase.store(kStop, std::memory_order_release);
  {
    std::unique_lock<std::mutex> lock(shared.mutex);
    shared.changed.wait(lock, [&] { return shared.active_slots == 0; });
  }
  if (!before.ok()) return before.status();
  if (!after.ok()) return after.status();

  LoadResult result;
  result.calls = completed;
  result.seconds = std::chrono::duration<double>(window_end - window_start).count();
  result.server_cpu_seconds = after->cpu_seconds - before->cpu_seconds;
  Summarize(slots, result);
  return result;
}

absl::StatusOr<ProcessSample> LoadGenerator::SampleServer() const {
  if (options_.server_pid == 0) return ProcessSample{};
  return SampleProcess(options_.server_pid);
}

void LoadGenerator::Summarize(const std::vector<std::unique_ptr<Slot>>& slots, LoadResult& result) {
  std::vector<float> latencies;
  for (const auto& slot : slots) {
    latencies.insert(latencies.end(), slot->latencies_us.begin(), slot->latencies_us.end());
    if (slot->errors > 0 && result.errors == 0) result.first_error = slot->first_error;
    result.errors += slot->errors;
  }
  result.calls_per_second = static_cast<double>(result.calls) / result.seconds;
  result.p50_us = Percentile(latencies, 0.50);
  result.p90_us = Percentile(latencies, 0.90);
  result.p99_us = Percentile(latencies, 0.99);
  result.p999_us = Percentile(latencies, 0.999);
  result.max_us = latencies.empty() ? 0 : *std::max_element(latencies.begin(), latencies.end());
  if (result.calls > 0) {
    result.server_cpu_us_per_call =
        result.server_cpu_seconds * 1e6 / static_cast<double>(result.calls);
  }
}

BurstResult FireBurst(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                      const std::string& client, int callers) {
  struct Call {
    grpc::ClientContext context;
    agentauth::v1::GetAccessTokenRequest request;
    agentauth::v1::GetAccessTokenResponse response;
    SteadyClock::time_point started;
    float latency_us = 0;
    grpc::Status status;
  };
  std::vector<std::unique_ptr<Stub>> stubs;
  for (const auto& channel : channels)
    stubs.push_back(agentauth::v1::TokenService::NewStub(channel));
  std::vector<std::unique_ptr<Call>> calls;
  for (int i = 0; i < callers; ++i) {
    auto call = std::make_unique<Call>();
    call->context.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
    call->request.set_client(client);
    calls.push_back(std::move(call));
  }

  std::mutex mutex;
  std::condition_variable all_done;
  int pending = callers;
  for (int i = 0; i < callers; ++i) {
    Call* call = calls[static_cast<size_t>(i)].get();
    call->started = SteadyClock::now();
    stubs[static_cast<size_t>(i) % stubs.size()]->async()->GetAccessToken(
        &call->context, &call->request, &call->response, [&, call](grpc::Status status) {
          call->latency_us = MicrosSince(call->started);
          call->status = std::move(status);
          std::lock_guard<std::mutex> lock(mutex);
          if (--pending == 0) all_done.notify_all();
        });
  }
  {
    std::unique_lock<std::mutex> lock(mutex);
    all_done.wait(lock, [&] { return pending == 0; });
  }

  BurstResult result;
  for (const auto& call : calls) {
    result.latencies_us.push_back(call->latency_us);
    if (call->status.ok()) continue;
    if (result.errors++ == 0) {
      result.first_error =
          absl::StrCat(call->status.error_code(), ": ", call->status.error_message());
    }
  }
  return result;
}

}  // namespace agentauth::bench
