#include "tests/testing/subprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

extern char** environ;

namespace agentauth::testing {
namespace {

// Owns a file descriptor; -1 when empty.
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
};

absl::Status MakePipe(Pipe& pipe) {
  int fds[2];
  // O_CLOEXEC: a child spawned concurrently by another thread must not inherit our write end,
  // or our read would not see end-of-file until that unrelated child exits.
  if (pipe2(fds, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe2");
  pipe.read_end = UniqueFd(fds[0]);
  pipe.write_end = UniqueFd(fds[1]);
  return absl::OkStatus();
}

size_t CountEntries(char** list) {
  size_t count = 0;
  while (list[count] != nullptr) ++count;
  return count;
}

// Later pairs win over earlier ones and over the inherited environment.
std::vector<std::string> BuildEnvironment(
    const std::vector<std::pair<std::string, std::string>>& extra_env) {
  std::vector<std::string> environment(environ, environ + CountEntries(environ));
  for (const auto& [name, value] : extra_env) {
    const std::string prefix = absl::StrCat(name, "=");
    environment.erase(std::remove_if(environment.begin(), environment.end(),
                                     [&](const std::string& variable) {
                                       return absl::StartsWith(variable, prefix);
                                     }),
                      environment.end());
    environment.push_back(prefix + value);
  }
  return environment;
}

// posix_spawn wants mutable C strings; the returned pointers live as long as `strings`.
std::vector<char*> ToCStrings(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

absl::StatusOr<pid_t> Spawn(std::vector<std::string> argv, std::vector<std::string> environment,
                            int stdout_fd, int stderr_fd) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  absl::Cleanup destroy_actions = [&] { posix_spawn_file_actions_destroy(&actions); };
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, stdout_fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, stderr_fd, STDERR_FILENO);

  // Test runners and gRPC may ignore or block signals such as SIGPIPE; the program under test
  // should see the defaults it would get from a shell.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  absl::Cleanup destroy_attributes = [&] { posix_spawnattr_destroy(&attributes); };
  sigset_t all_signals;
  sigfillset(&all_signals);
  sigdelset(&all_signals, SIGKILL);
  sigdelset(&all_signals, SIGSTOP);
  sigset_t no_signals;
  sigemptyset(&no_signals);
  posix_spawnattr_setsigdefault(&attributes, &all_signals);
  posix_spawnattr_setsigmask(&attributes, &no_signals);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<char*> c_argv = ToCStrings(argv);
  std::vector<char*> c_environment = ToCStrings(environment);
  pid_t pid = -1;
  const int error =
      posix_spawnp(&pid, c_argv[0], &actions, &attributes, c_argv.data(), c_environment.data());
  if (error != 0) return absl::ErrnoToStatus(error, absl::StrCat("starting ", argv[0]));
  return pid;
}

// Reads what `fd` holds now into `out` without blocking, keeping at most kMaxCapturedBytes.
// Returns true at end-of-file.
bool DrainAvailable(int fd, std::string& out) {
  char buffer[4096];
  while (true) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n > 0) {
      out.append(buffer, std::min(static_cast<size_t>(n), kMaxCapturedBytes - out.size()));
    } else if (n == 0) {
      return true;
    } else if (errno != EINTR) {
      // EAGAIN: nothing more for now. Any other error ends the stream as end-of-file would.
      return errno != EAGAIN;
    }
  }
}

int PollTimeoutMillis(absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return -1;
  const absl::Duration remaining =
      std::max(absl::Ceil(deadline - absl::Now(), absl::Milliseconds(1)), absl::ZeroDuration());
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(remaining), INT_MAX));
}

ProcessResult ToResult(int wait_status, std::string stdout_text, std::string stderr_text) {
  ProcessResult result;
  if (WIFEXITED(wait_status)) result.exit_code = WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) result.term_signal = WTERMSIG(wait_status);
  result.stdout_text = std::move(stdout_text);
  result.stderr_text = std::move(stderr_text);
  return result;
}

absl::Status TimeoutError(const std::string& program, absl::Duration timeout,
                          const std::string& stderr_text) {
  const size_t tail = std::min<size_t>(stderr_text.size(), 2000);
  return absl::DeadlineExceededError(
      absl::StrCat(program, " did not exit within ", absl::FormatDuration(timeout),
                   " and was killed; its stderr ends with: ",
                   absl::string_view(stderr_text).substr(stderr_text.size() - tail)));
}

int Reap(pid_t pid) {
  int wait_status = 0;
  while (waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
  }
  return wait_status;
}

}  // namespace

absl::StatusOr<ProcessResult> RunProcess(
    const std::vector<std::string>& argv,
    const std::vector<std::pair<std::string, std::string>>& extra_env, absl::Duration timeout) {
  if (argv.empty()) return absl::InvalidArgumentError("RunProcess: empty argv");
  const absl::Time deadline = absl::Now() + timeout;

  Pipe out_pipe, err_pipe;
  if (absl::Status made = MakePipe(out_pipe); !made.ok()) return made;
  if (absl::Status made = MakePipe(err_pipe); !made.ok()) return made;
  absl::StatusOr<pid_t> pid =
      Spawn(argv, BuildEnvironment(extra_env), out_pipe.write_end.get(), err_pipe.write_end.get());
  if (!pid.ok()) return pid.status();
  // Only the child may hold the write ends now, so that its exit closes the pipes.
  out_pipe.write_end.Reset();
  err_pipe.write_end.Reset();

  // A pidfd turns "the child exited" into one more readable descriptor for poll(), so one
  // loop waits for output, exit and the deadline without SIGCHLD handlers or sleeping.
  // Through syscall(): glibc 2.36's <sys/pidfd.h> lacks extern "C", so C++ cannot link it.
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, *pid, 0)));
  if (pidfd.get() < 0) {
    const int error = errno;
    kill(*pid, SIGKILL);
    Reap(*pid);
    return absl::ErrnoToStatus(error, "pidfd_open");
  }
  fcntl(out_pipe.read_end.get(), F_SETFL, O_NONBLOCK);
  fcntl(err_pipe.read_end.get(), F_SETFL, O_NONBLOCK);

  std::string stdout_text, stderr_text;
  bool stdout_open = true, stderr_open = true, exited = false;
  while (!exited) {
    // Checked before every poll, not only when poll times out: a child that writes without
    // pause would otherwise keep poll busy past the deadline forever.
    if (absl::Now() >= deadline) {
      kill(*pid, SIGKILL);
      Reap(*pid);
      if (stderr_open) DrainAvailable(err_pipe.read_end.get(), stderr_text);
      return TimeoutError(argv[0], timeout, stderr_text);
    }
    pollfd fds[3] = {{stdout_open ? out_pipe.read_end.get() : -1, POLLIN, 0},
                     {stderr_open ? err_pipe.read_end.get() : -1, POLLIN, 0},
                     {pidfd.get(), POLLIN, 0}};
    const int ready = poll(fds, 3, PollTimeoutMillis(deadline));
    if (ready < 0 && errno != EINTR) {
      const int error = errno;
      kill(*pid, SIGKILL);
      Reap(*pid);
      return absl::ErrnoToStatus(error, "poll");
    }
    if (ready <= 0) continue;

    if (fds[0].revents != 0) stdout_open = !DrainAvailable(fds[0].fd, stdout_text);
    if (fds[1].revents != 0) stderr_open = !DrainAvailable(fds[1].fd, stderr_text);
    exited = fds[2].revents != 0;
  }

  // Whatever the child wrote before exiting is already in the pipes.
  if (stdout_open) DrainAvailable(out_pipe.read_end.get(), stdout_text);
  if (stderr_open) DrainAvailable(err_pipe.read_end.get(), stderr_text);
  return ToResult(Reap(*pid), std::move(stdout_text), std::move(stderr_text));
}

}  // namespace agentauth::testing
