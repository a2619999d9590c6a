// A directory of a test's own under /tmp, removed with everything in it when the test ends.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace agentauth::testing {

class TempDir {
 public:
  TempDir() {
    // mkdtemp replaces the six trailing X with a unique name.
    std::string pattern =
        (std::filesystem::temp_directory_path() / ("agentauth-" + std::string(6, 'X'))).string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

  // Writes `content` to `name` inside the directory and returns the file's path. The file is
  // readable by its owner only (0600), as agentauth wants secret and key files.
  std::string Write(const std::string& name, const std::string& content) const {
    const std::string file = path_ + "/" + name;
    std::ofstream(file, std::ios::binary | std::ios::trunc) << content;
    std::filesystem::permissions(
        file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    return file;
  }

 private:
  std::string path_;
};

}  // namespace agentauth::testing
