#include "tests/bench/process_stats.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace agentauth::bench {
namespace {

absl::StatusOr<std::string> ReadProcFile(pid_t pid, const std::string& name) {
  const std::string path = absl::StrCat("/proc/", pid, "/", name);
  std::ifstream file(path);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

absl::StatusOr<double> CpuSeconds(pid_t pid) {
  absl::StatusOr<std::string> stat = ReadProcFile(pid, "stat");
  if (!stat.ok()) return stat.status();

  // The command name (field 2) may hold spaces and parentheses: fields are counted after the
  // last ')'. What follows starts with field 3 (state); utime and stime are fields 14 and 15.
  const size_t name_end = stat->rfind(')');
  if (name_end == std::string::npos) return absl::InternalError("malformed /proc/<pid>/stat");
  const std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(*stat).substr(name_end + 2), ' ');
  uint64_t utime = 0;
  uint64_t stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return absl::InternalError("malformed utime/stime in /proc/<pid>/stat");
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

absl::StatusOr<int64_t> ResidentBytes(pid_t pid) {
  absl::StatusOr<std::string> status = ReadProcFile(pid, "status");
  if (!status.ok()) return status.status();

  for (absl::string_view line : absl::StrSplit(*status, '\n')) {
    if (!absl::ConsumePrefix(&line, "VmRSS:")) continue;
    int64_t kib = 0;
    line = absl::StripSuffix(absl::StripAsciiWhitespace(line), " kB");
    if (!absl::SimpleAtoi(line, &kib)) return absl::InternalError("malformed VmRSS");
    return kib * 1024;
  }
  return absl::InternalError("no VmRSS in /proc/<pid>/status");
}

}  // namespace

absl::StatusOr<ProcessSample> SampleProcess(pid_t pid) {
  ProcessSample sample;
  absl::StatusOr<double> cpu = CpuSeconds(pid);
  if (!cpu.ok()) return cpu.status();
  sample.cpu_seconds = *cpu;

  absl::StatusOr<int64_t> resident = ResidentBytes(pid);
  if (!resident.ok()) return resident.status();
  sample.resident_bytes = *resident;

  std::error_code error;
  for (auto it = std::filesystem::directory_iterator(absl::StrCat("/proc/", pid, "/fd"), error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    ++sample.open_fds;
  }
  if (error) return absl::NotFoundError(absl::StrCat("cannot list /proc/", pid, "/fd"));
  return sample;
}

}  // namespace agentauth::bench
