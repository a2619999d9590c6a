#include "tests/testing/child_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

extern char** environ;

namespace agentauth::testing {
namespace {

std::string Tail(const std::string& text) {
  constexpr size_t kTailBytes = 2000;
  return text.size() <= kTailBytes ? text : text.substr(text.size() - kTailBytes);
}

std::vector<std::string> MergedEnvironment(
    const std::vector<std::pair<std::string, std::string>>& extra_env) {
  std::vector<std::string> merged;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string variable(*entry);
    const std::string name = variable.substr(0, variable.find('='));
    bool replaced = false;
    for (const auto& [extra_name, unused] : extra_env) replaced |= extra_name == name;
    if (!replaced) merged.push_back(variable);
  }
  for (const auto& [name, value] : extra_env) merged.push_back(absl::StrCat(name, "=", value));
  return merged;
}

std::vector<char*> AsArgv(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& text : strings) pointers.push_back(text.data());
  pointers.push_back(nullptr);
  return pointers;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    const std::vector<std::string>& argv,
    const std::vector<std::pair<std::string, std::string>>& extra_env) {
  if (argv.empty()) return absl::InvalidArgumentError("argv is empty");

  int out_pipe[2];
  int err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);

  std::vector<std::string> args = argv;
  std::vector<std::string> env = MergedEnvironment(extra_env);
  std::vector<char*> arg_pointers = AsArgv(args);
  std::vector<char*> env_pointers = AsArgv(env);

  std::unique_ptr<ChildProcess> child(new ChildProcess());
  const int spawned = posix_spawnp(&child->pid_, args[0].c_str(), &actions, nullptr,
                                   arg_pointers.data(), env_pointers.data());
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (spawned != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    child->reaped_ = true;
    return absl::NotFoundError(
        absl::StrCat("cannot start ", args[0], ": ", std::strerror(spawned)));
  }

  child->stdout_.fd = out_pipe[0];
  child->stderr_.fd = err_pipe[0];
  ChildProcess* raw = child.get();
  child->stdout_.reader = std::thread([raw] { raw->ReadUntilClosed(raw->stdout_); });
  child->stderr_.reader = std::thread([raw] { raw->ReadUntilClosed(raw->stderr_); });
  return child;
}

ChildProcess::~ChildProcess() {
  if (!reaped_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  for (Capture* capture : {&stdout_, &stderr_}) {
    if (capture->reader.joinable()) capture->reader.join();
    if (capture->fd >= 0) close(capture->fd);
  }
}

void ChildProcess::ReadUntilClosed(Capture& capture) {
  char buffer[4096];
  while (true) {
    const ssize_t bytes = read(capture.fd, buffer, sizeof(buffer));
    if (bytes < 0 && errno == EINTR) continue;
    std::lock_guard<std::mutex> lock(mutex_);
    if (bytes <= 0) {
      capture.closed = true;
      changed_.notify_all();
      return;
    }
    capture.text.append(buffer, static_cast<size_t>(bytes));
    changed_.notify_all();
  }
}

absl::StatusOr<std::string> ChildProcess::WaitForLine(
    Stream stream, const std::function<bool(const std::string&)>& matches, absl::Duration timeout) {
  Capture& capture = CaptureOf(stream);
  const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);

  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    const size_t complete = capture.text.rfind('\n');
    if (complete != std::string::npos) {
      for (absl::string_view line :
           absl::StrSplit(absl::string_view(capture.text).substr(0, complete), '\n')) {
        if (matches(std::string(line))) return std::string(line);
      }
    }
    if (capture.closed) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the stream closed before the line appeared; it ended with:\n", Tail(capture.text)));
    }
    if (changed_.wait_until(lock, deadline) == std::cv_status::timeout) {
      return absl::DeadlineExceededError(
          absl::StrCat("the line did not appear within ", absl::FormatDuration(timeout),
                       "; output so far ended with:\n", Tail(capture.text)));
    }
  }
}

absl::StatusOr<int> ChildProcess::Stop(int signal, absl::Duration timeout) {
  if (reaped_) return absl::FailedPreconditionError("already stopped");
  kill(pid_, signal);

  const absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  while (true) {
    const pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) break;
    if (absl::Now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      reaped_ = true;
      return absl::DeadlineExceededError(
          absl::StrCat("process ", pid_, " did not exit within ", absl::FormatDuration(timeout)));
    }
    // Polling waitpid is the portable way to bound a wait for a child without SIGCHLD handling.
    absl::SleepFor(absl::Milliseconds(5));
  }
  reaped_ = true;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string ChildProcess::Output(Stream stream) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stream == Stream::kStdout ? stdout_.text : stderr_.text;
}

int UnusedLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

}  // namespace agentauth::testing
