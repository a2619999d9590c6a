// Time, behind a seam so that tests move it instead of sleeping.
#pragma once

#include <chrono>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace agentauth {

// The source of "now" for every component. Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// Wall-clock time that never jumps: the wall time read once at construction plus the time
// elapsed on the monotonic clock since. A token's expiry is computed from this, so a step of the
// system clock (NTP, a VM resuming) cannot make a cached token look fresh or expired.
class MonotonicClock final : public Clock {
 public:
  MonotonicClock();
  absl::Time Now() const override;

 private:
  absl::Time wall_at_start_;
  std::chrono::steady_clock::time_point steady_at_start_;
};

}  // namespace agentauth
