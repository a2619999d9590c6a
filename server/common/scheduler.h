// Running work at a point in time, behind a seam so that tests move time instead of sleeping.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "server/common/clock.h"

namespace agentauth {

// Thread-safe.
class Scheduler {
 public:
  using Task = std::function<void()>;

  virtual ~Scheduler() = default;

  // Runs `task` once the clock reads `when` or later. Tasks must be short (they hand work to an
  // executor); they run one at a time, earliest first.
  virtual void RunAt(absl::Time when, Task task) = 0;
};

// A Scheduler with one thread that waits for the earliest task on the real clock.
class ThreadScheduler final : public Scheduler {
 public:
  // `clock` must outlive the scheduler and advance with real time.
  explicit ThreadScheduler(const Clock& clock);
  ~ThreadScheduler() override;

  void RunAt(absl::Time when, Task task) override;

  // Drops the tasks not yet due and joins the thread. Idempotent.
  void Shutdown();

 private:
  struct Timed {
    absl::Time when;
    uint64_t sequence;  // Keeps tasks due at the same time in the order they were scheduled.
    Task task;
    bool operator>(const Timed& other) const {
      return when != other.when ? when > other.when : sequence > other.sequence;
    }
  };

  void Run();

  const Clock& clock_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::priority_queue<Timed, std::vector<Timed>, std::greater<>> tasks_ ABSL_GUARDED_BY(mutex_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mutex_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::thread thread_;
};

}  // namespace agentauth
