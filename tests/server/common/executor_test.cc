#include "server/common/executor.h"

#include <condition_variable>
#include <mutex>

#include "gtest/gtest.h"

namespace agentauth {
namespace {

// A count that tests wait on instead of sleeping.
class Counter {
 public:
  void Increment() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++count_;
    changed_.notify_all();
  }
  int count() {
    std::lock_guard<std::mutex> lock(mutex_);
    return count_;
  }
  bool WaitFor(int count) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(30), [&] { return count_ >= count; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int count_ = 0;
};

TEST(ThreadPoolExecutorTest, OneSlowTaskDoesNotHoldBackTheOthers) {
  ThreadPoolExecutor pool(2);
  std::mutex gate;
  gate.lock();  // The slow client's provider hangs until the test opens the gate.
  Counter quick_done;

  pool.Schedule([&] { std::lock_guard<std::mutex> wait(gate); });
  for (int i = 0; i < 100; ++i) pool.Schedule([&] { quick_done.Increment(); });

  EXPECT_TRUE(quick_done.WaitFor(100)) << "the other thread served everyone else";
  gate.unlock();
}

TEST(ThreadPoolExecutorTest, NeverRunsMoreTasksAtOnceThanItHasThreads) {
  constexpr int kThreads = 3;
  ThreadPoolExecutor pool(kThreads);
  std::mutex mutex;
  int running = 0;
  int most = 0;
  Counter done;

  for (int i = 0; i < 200; ++i) {
    pool.Schedule([&] {
      {
        std::lock_guard<std::mutex> lock(mutex);
        most = std::max(most, ++running);
      }
      std::this_thread::yield();
      {
        std::lock_guard<std::mutex> lock(mutex);
        --running;
      }
      done.Increment();
    });
  }

  ASSERT_TRUE(done.WaitFor(200));
  EXPECT_LE(most, kThreads);
}

TEST(ThreadPoolExecutorTest, ShutdownFinishesTheRunningTaskAndDropsTheQueue) {
  Counter started;
  Counter done;
  std::mutex gate;
  gate.lock();
  ThreadPoolExecutor pool(1);
  pool.Schedule([&] {
    started.Increment();
    std::lock_guard<std::mutex> wait(gate);
    done.Increment();
  });
  for (int i = 0; i < 50; ++i) pool.Schedule([&] { done.Increment(); });
  ASSERT_TRUE(started.WaitFor(1));

  std::thread stopper([&] { pool.Shutdown(); });
  while (pool.QueuedTasks() > 0) std::this_thread::yield();
  gate.unlock();
  stopper.join();

  EXPECT_EQ(done.count(), 1) << "the running task finished; the queued ones were dropped";
}

}  // namespace
}  // namespace agentauth
