// What agentauthd does to its own process before it reads a secret.
#pragma once

#include "absl/status/status.h"

namespace agentauth {

// Marks the process not dumpable (PR_SET_DUMPABLE 0): no core file, and other processes of
// the same user cannot ptrace it or read its /proc/<pid>/mem, environ and the like, where
// client secrets and tokens live. INTERNAL naming the error when the kernel refuses.
absl::Status MakeProcessUndumpable();

}  // namespace agentauth
