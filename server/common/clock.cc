#include "server/common/clock.h"

#include <time.h>

namespace agentauth {
namespace {

absl::Duration SinceBoot() {
  timespec now = {};
  clock_gettime(CLOCK_BOOTTIME, &now);
  return absl::DurationFromTimespec(now);
}

}  // namespace

MonotonicClock::MonotonicClock() : wall_at_start_(absl::Now()), boot_at_start_(SinceBoot()) {}

absl::Time MonotonicClock::Now() const { return wall_at_start_ + (SinceBoot() - boot_at_start_); }

}  // namespace agentauth
