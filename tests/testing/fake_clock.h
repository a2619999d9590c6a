// A clock that moves only when a test says so.
#pragma once

#include <mutex>

#include "absl/time/clock.h"
#include "server/common/clock.h"

namespace agentauth::testing {

// Starts at the real time of construction (so that times compare sensibly with what a real
// provider puts in its tokens) and then stands still. Thread-safe.
class FakeClock final : public Clock {
 public:
  FakeClock() : now_(absl::Now()) {}
  explicit FakeClock(absl::Time start) : now_(start) {}

  absl::Time Now() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return now_;
  }

  void Advance(absl::Duration duration) {
    std::lock_guard<std::mutex> lock(mutex_);
    now_ += duration;
  }

 private:
  mutable std::mutex mutex_;
  absl::Time now_;
};

}  // namespace agentauth::testing
