// Randomness, behind a seam so that tests get the same jitter every run.
#pragma once

#include <mutex>
#include <random>

#include "absl/base/thread_annotations.h"

namespace agentauth {

// Thread-safe.
class Random {
 public:
  virtual ~Random() = default;
  // A number in [0, 1).
  virtual double Uniform() = 0;
};

class SystemRandom final : public Random {
 public:
  SystemRandom() : engine_(std::random_device{}()) {}

  double Uniform() override {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::uniform_real_distribution<double>(0.0, 1.0)(engine_);
  }

 private:
  std::mutex mutex_;
  std::mt19937_64 engine_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace agentauth
