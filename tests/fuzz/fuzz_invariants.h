// What every fuzz target of tests/fuzz/ checks, and how it reports a broken invariant: a clear
// message on stderr, then abort(), which libFuzzer and the replay driver both treat as a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace agentauth::fuzzing {

// A value no input may see echoed back in an error message: the secret the fake secret sources
// hand out, and the token planted in the seed corpus.
inline constexpr absl::string_view kPlantedSecret = "FUZZ-SECRET-42";

// Ends the run with `what` as the reason.
[[noreturn]] inline void Violation(absl::string_view target, absl::string_view what) {
  const std::string line = absl::StrCat("INVARIANT VIOLATED in ", target, ": ", what, "\n");
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  std::abort();
}

// Runs `fuzz_one` on the input as text; an exception escaping it is a violation, since nothing
// in agentauth may throw across a module boundary.
template <typename FuzzOne>
int RunGuarded(absl::string_view target, const uint8_t* data, size_t size, FuzzOne fuzz_one) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  try {
    fuzz_one(input);
  } catch (const std::exception& error) {
    Violation(target, std::string("exception: ") + error.what());
  } catch (...) {
    Violation(target, "an exception of unknown type");
  }
  return 0;
}

inline void Require(bool holds, absl::string_view target, absl::string_view what) {
  if (!holds) Violation(target, what);
}

// Control characters (C0 and DEL) split log lines and headers; messages must not carry them raw.
inline bool HasControlCharacter(absl::string_view text) {
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// True when no UTF-8 sequence is cut short or starts with a stray continuation byte: the shape
// SanitizeForMessage promises when it shortens text. Overlong forms are not looked for.
inline bool IsWholeUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    size_t length = 1;
    if (lead >= 0x80) {
      if ((lead & 0xe0) == 0xc0) {
        length = 2;
      } else if ((lead & 0xf0) == 0xe0) {
        length = 3;
      } else if ((lead & 0xf8) == 0xf0) {
        length = 4;
      } else {
        return false;
      }
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xc0) != 0x80) return false;
    }
    i += length;
  }
  return true;
}

// Prints the escaping-safe start of `text` for a violation message.
inline std::string Quote(absl::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text.substr(0, 200)) {
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      absl::StrAppend(&out, "\\x", absl::Hex(c, absl::kZeroPad2));
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  absl::StrAppend(&out, text.size() > 200 ? "\"..." : "\"");
  return out;
}

}  // namespace agentauth::fuzzing
