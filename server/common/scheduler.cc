#include "server/common/scheduler.h"

#include <chrono>

namespace agentauth {

ThreadScheduler::ThreadScheduler(const Clock& clock) : clock_(clock) {
  thread_ = std::thread([this] { Run(); });
}

ThreadScheduler::~ThreadScheduler() { Shutdown(); }

void ThreadScheduler::RunAt(absl::Time when, Task task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    tasks_.push(Timed{when, next_sequence_++, std::move(task)});
  }
  changed_.notify_one();
}

void ThreadScheduler::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  changed_.notify_one();
  thread_.join();
}

void ThreadScheduler::Run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    if (tasks_.empty()) {
      changed_.wait(lock);
      continue;
    }
    const absl::Duration wait = tasks_.top().when - clock_.Now();
    if (wait > absl::ZeroDuration()) {
      // Waiting on the steady clock for a span of the injected one: they advance together.
      changed_.wait_for(lock, absl::ToChronoNanoseconds(wait));
      continue;
    }
    Task task = std::move(const_cast<Timed&>(tasks_.top()).task);
    tasks_.pop();
    lock.unlock();
    task();
    lock.lock();
  }
}

}  // namespace agentauth
