// A scheduler driven by a FakeClock: planned tasks run when the test advances time.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <utility>

#include "server/common/random.h"
#include "server/common/scheduler.h"
#include "tests/testing/fake_clock.h"

namespace agentauth::testing {

// Thread-safe.
class FakeScheduler final : public Scheduler {
 public:
  explicit FakeScheduler(FakeClock& clock) : clock_(clock) {}

  void RunAt(absl::Time when, Task task) override {
    std::lock_guard<std::mutex> lock(mutex_);
    tasks_.emplace(std::make_pair(when, next_sequence_++), std::move(task));
  }

  // Moves the clock forward by `duration`, running every task that falls due on the way at its
  // own time, in order. Returns how many ran.
  size_t Advance(absl::Duration duration) {
    const absl::Time end = clock_.Now() + duration;
    size_t ran = 0;
    while (true) {
      Task task;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (tasks_.empty() || tasks_.begin()->first.first > end) break;
        const absl::Time when = tasks_.begin()->first.first;
        task = std::move(tasks_.begin()->second);
        tasks_.erase(tasks_.begin());
        if (when > clock_.Now()) clock_.Advance(when - clock_.Now());
      }
      task();
      ++ran;
    }
    if (end > clock_.Now()) clock_.Advance(end - clock_.Now());
    return ran;
  }

  // When the earliest planned task is due, or InfiniteFuture.
  absl::Time NextDue() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return tasks_.empty() ? absl::InfiniteFuture() : tasks_.begin()->first.first;
  }

 private:
  FakeClock& clock_;
  mutable std::mutex mutex_;
  std::map<std::pair<absl::Time, uint64_t>, Task> tasks_;
  uint64_t next_sequence_ = 0;
};

// Always the same number, so that jitter is predictable.
class FixedRandom final : public Random {
 public:
  explicit FixedRandom(double value = 0.5) : value_(value) {}
  double Uniform() override { return value_; }
  void Set(double value) { value_ = value; }

 private:
  std::atomic<double> value_;
};

}  // namespace agentauth::testing
