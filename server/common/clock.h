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
// elapsed since on CLOCK_BOOTTIME, which (unlike CLOCK_MONOTONIC) keeps counting while the
// machine is suspended. A token's expiry is computed from this, so neither a step of the system
// clock (NTP) nor a suspended VM can make a cached token look fresher than it is.
class MonotonicClock final : public Clock {
 public:
  MonotonicClock();
  absl::Time Now() const override;

 private:
  absl::Time wall_at_start_;
  absl::Duration boot_at_start_;
};

}  // namespace agentauth
