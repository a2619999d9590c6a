// An executor that runs tasks only when the test says so.
#pragma once

#include <deque>
#include <mutex>

#include "server/common/executor.h"

namespace agentauth::testing {

// Thread-safe.
class ManualExecutor final : public Executor {
 public:
  void Schedule(Task task) override {
    std::lock_guard<std::mutex> lock(mutex_);
    tasks_.push_back(std::move(task));
  }

  size_t Pending() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return tasks_.size();
  }

  // Runs the tasks queued so far (and any they queue), on this thread. Returns how many ran.
  size_t RunAll() {
    size_t ran = 0;
    while (true) {
      Task task;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (tasks_.empty()) return ran;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
      ++ran;
    }
  }

 private:
  mutable std::mutex mutex_;
  std::deque<Task> tasks_;
};

}  // namespace agentauth::testing
