// Happens-before edges that ThreadSanitizer cannot see by itself: gRPC hands work between its
// threads inside its core, which Debian builds without TSan instrumentation. Marking both ends
// lets TSan check our code instead of reporting every object that crosses gRPC. No-ops in
// builds without TSan.
#pragma once

#include "absl/base/config.h"

#ifdef ABSL_HAVE_THREAD_SANITIZER
#include <sanitizer/tsan_interface.h>
#endif

namespace agentauth {

// Everything this thread did before is visible to a thread that later calls
// TsanAcquire(address) after synchronising through gRPC.
inline void TsanRelease(const void* address) {
#ifdef ABSL_HAVE_THREAD_SANITIZER
  __tsan_release(const_cast<void*>(address));
#else
  (void)address;
#endif
}

inline void TsanAcquire(const void* address) {
#ifdef ABSL_HAVE_THREAD_SANITIZER
  __tsan_acquire(const_cast<void*>(address));
#else
  (void)address;
#endif
}

}  // namespace agentauth
