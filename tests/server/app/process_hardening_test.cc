#include "server/app/process_hardening.h"

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace agentauth {
namespace {

// In a child, so that the test process itself stays dumpable for debuggers.
TEST(ProcessHardeningTest, TheProcessIsNoLongerDumpable) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const bool before = prctl(PR_GET_DUMPABLE) == 1;
    const bool hardened = MakeProcessUndumpable().ok();
    const bool after = prctl(PR_GET_DUMPABLE) == 0;
    _exit(before && hardened && after ? 0 : 1);
  }

  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);

  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace agentauth
