// A long-running program started by a test (the dev identity provider, agentauthd), whose output
// the test waits on line by line instead of sleeping.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace agentauth::testing {

class ChildProcess {
 public:
  enum class Stream { kStdout, kStderr };

  // Starts argv[0] (searched in $PATH when it has no '/') with stdin from /dev/null, stdout and
  // stderr captured, and `extra_env` added to this process's environment.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(
      const std::vector<std::string>& argv,
      const std::vector<std::pair<std::string, std::string>>& extra_env = {});

  // Kills the process (SIGKILL, by pid) if it still runs, and reaps it.
  ~ChildProcess();

  // Waits until a complete line of `stream` satisfies `matches` and returns it. Lines seen by an
  // earlier call are searched again. DEADLINE_EXCEEDED after `timeout`, FAILED_PRECONDITION when
  // the stream closed first; both messages end with the stream's last output.
  absl::StatusOr<std::string> WaitForLine(Stream stream,
                                          const std::function<bool(const std::string&)>& matches,
                                          absl::Duration timeout);

  // Sends `signal` and waits for the process to exit. Returns its exit code, or 128 + signal
  // when a signal ended it; DEADLINE_EXCEEDED (after killing it) when it outlives `timeout`.
  absl::StatusOr<int> Stop(int signal, absl::Duration timeout);

  // Everything written to `stream` so far.
  std::string Output(Stream stream) const;

  pid_t pid() const { return pid_; }

 private:
  struct Capture {
    int fd = -1;
    std::string text;
    bool closed = false;
    std::thread reader;
  };

  ChildProcess() = default;
  void ReadUntilClosed(Capture& capture);
  Capture& CaptureOf(Stream stream) { return stream == Stream::kStdout ? stdout_ : stderr_; }

  pid_t pid_ = -1;
  bool reaped_ = false;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  Capture stdout_;
  Capture stderr_;
};

// A TCP port on 127.0.0.1 that nobody listens on right now.
int UnusedLoopbackPort();

}  // namespace agentauth::testing
