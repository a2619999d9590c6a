// A log sink that keeps every line, so tests can read what agentauth logged.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "server/common/logging.h"

namespace agentauth::testing {

// Thread-safe.
class CapturedLog {
 public:
  Logger::Sink Sink() {
    return [this](absl::string_view line) {
      std::lock_guard<std::mutex> lock(mutex_);
      lines_.emplace_back(absl::StripSuffix(line, "\n"));
    };
  }

  std::vector<std::string> Lines() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

}  // namespace agentauth::testing
