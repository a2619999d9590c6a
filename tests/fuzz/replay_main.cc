// Replays fuzz inputs through a target's LLVMFuzzerTestOneInput without libFuzzer, so that the
// normal build (GCC, no fuzzing runtime) keeps the targets compiling and the committed corpus
// passing. A finding aborts the process, which fails the CTest test.
//
// Usage: agentauth_fuzz_<name>_replay [--skip-list=FILE] PATH...
// Every regular file under each PATH (a file or a directory, searched recursively) is one
// input. FILE lists inputs not to replay, one "<corpus dir name>/<file name>" per line, '#'
// starting a comment: the findings not fixed yet (see tests/fuzz/known_findings.txt).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

constexpr char kSkipListFlag[] = "--skip-list=";

std::set<std::string> ReadSkipList(const std::string& path) {
  std::set<std::string> skipped;
  std::ifstream file(path);
  if (!file) {
    std::fprintf(stderr, "replay: cannot read skip list %s\n", path.c_str());
    std::exit(2);
  }
  std::string line;
  while (std::getline(file, line)) {
    line = line.substr(0, line.find('#'));
    const size_t begin = line.find_first_not_of(" \t");
    if (begin == std::string::npos) continue;
    const size_t end = line.find_first_of(" \t", begin);
    skipped.insert(line.substr(begin, end - begin));
  }
  return skipped;
}

std::vector<fs::path> CollectInputs(const std::vector<std::string>& roots) {
  std::vector<fs::path> inputs;
  for (const std::string& root : roots) {
    if (fs::is_regular_file(root)) {
      inputs.emplace_back(root);
      continue;
    }
    if (!fs::is_directory(root)) {
      std::fprintf(stderr, "replay: %s is neither a file nor a directory\n", root.c_str());
      std::exit(2);
    }
    for (const fs::directory_entry& entry : fs::recursive_directory_iterator(root)) {
      if (entry.is_regular_file()) inputs.push_back(entry.path());
    }
  }
  // Sorted, so that a failure names the same input on every machine.
  std::sort(inputs.begin(), inputs.end());
  return inputs;
}

std::string ReadWholeFile(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

}  // namespace

int main(int argc, char** argv) {
  std::set<std::string> skip_list;
  std::vector<std::string> roots;
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    if (argument.rfind(kSkipListFlag, 0) == 0) {
      skip_list = ReadSkipList(argument.substr(sizeof(kSkipListFlag) - 1));
    } else {
      roots.push_back(argument);
    }
  }
  if (roots.empty()) {
    std::fprintf(stderr, "usage: %s [--skip-list=FILE] PATH...\n", argv[0]);
    return 2;
  }

  size_t ran = 0;
  size_t skipped = 0;
  for (const fs::path& input : CollectInputs(roots)) {
    const std::string key = (input.parent_path().filename() / input.filename()).string();
    if (skip_list.count(key) > 0) {
      std::printf("replay: skipping %s, a known finding\n", key.c_str());
      ++skipped;
      continue;
    }
    // Named before it runs: if it aborts, the log says which input did it.
    std::printf("replay: %s\n", input.c_str());
    std::fflush(stdout);
    const std::string data = ReadWholeFile(input);
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()), data.size());
    ++ran;
  }

  std::printf("replay: %zu inputs ran, %zu known findings skipped\n", ran, skipped);
  // An empty corpus is a wrong path, not a pass.
  return ran > 0 ? 0 : 1;
}
