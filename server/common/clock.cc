#include "server/common/clock.h"

#include <chrono>

namespace agentauth {

MonotonicClock::MonotonicClock()
    : wall_at_start_(absl::Now()), steady_at_start_(std::chrono::steady_clock::now()) {}

absl::Time MonotonicClock::Now() const {
  return wall_at_start_ + absl::FromChrono(std::chrono::steady_clock::now() - steady_at_start_);
}

}  // namespace agentauth
