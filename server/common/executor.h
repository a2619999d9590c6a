// Where blocking work (provider requests) runs, behind a seam so that tests decide when.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"

namespace agentauth {

// Runs tasks somewhere else. Thread-safe.
class Executor {
 public:
  using Task = std::function<void()>;

  virtual ~Executor() = default;

  // Queues `task`.
  virtual void Schedule(Task task) = 0;
};

// A fixed number of threads taking tasks in the order they were queued. The size bounds how many
// provider requests run at once, however many callers are waiting.
class ThreadPoolExecutor final : public Executor {
 public:
  // REQUIRES: threads >= 1.
  explicit ThreadPoolExecutor(size_t threads);
  ~ThreadPoolExecutor() override;

  void Schedule(Task task) override;

  // Tasks waiting for a thread.
  size_t QueuedTasks() const;

  // Drops the tasks not yet started (provider requests nobody will need once the server
  // stops), waits for the running ones and joins the threads. Tasks scheduled afterwards are
  // dropped. Idempotent.
  void Shutdown();

 private:
  void RunWorker();

  mutable std::mutex mutex_;
  std::condition_variable task_ready_;
  std::deque<Task> tasks_ ABSL_GUARDED_BY(mutex_);
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace agentauth
