// The early return every StatusOr-based codebase needs; Debian 12's abseil predates its own.
#pragma once

#include "absl/status/status.h"

// Evaluates `expr` (an absl::Status) once and returns it from the calling function unless OK.
#define AGENTAUTH_RETURN_IF_ERROR(expr)                 \
  do {                                                  \
    if (absl::Status status_ = (expr); !status_.ok()) { \
      return status_;                                   \
    }                                                   \
  } while (false)
