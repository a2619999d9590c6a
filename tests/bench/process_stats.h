// What the benchmarks read about a server process from /proc: CPU time, resident memory and open
// file descriptors. Linux only, like the daemon's own process metrics.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "absl/status/statusor.h"

namespace agentauth::bench {

struct ProcessSample {
  // utime + stime of /proc/<pid>/stat: CPU the process used in user and kernel mode so far.
  double cpu_seconds = 0;
  // VmRSS of /proc/<pid>/status.
  int64_t resident_bytes = 0;
  // Entries of /proc/<pid>/fd.
  int open_fds = 0;
};

// NOT_FOUND when the process is gone; INTERNAL when /proc reads in an unexpected shape.
absl::StatusOr<ProcessSample> SampleProcess(pid_t pid);

}  // namespace agentauth::bench
