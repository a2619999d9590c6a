#include "server/common/text.h"

#include "absl/strings/str_format.h"

namespace agentauth {
namespace {

bool IsUtf8Continuation(unsigned char c) { return (c & 0xc0) == 0x80; }

// Length of the valid UTF-8 sequence at the start of `text`, or 0 if it is not one.
size_t Utf8SequenceLength(absl::string_view text) {
  const auto lead = static_cast<unsigned char>(text[0]);
  size_t length = 0;
  if ((lead & 0xe0) == 0xc0) {
    length = 2;
  } else if ((lead & 0xf0) == 0xe0) {
    length = 3;
  } else if ((lead & 0xf8) == 0xf0) {
    length = 4;
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  for (size_t i = 1; i < length; ++i) {
    if (!IsUtf8Continuation(static_cast<unsigned char>(text[i]))) return 0;
  }
  return length;
}

}  // namespace

std::string SanitizeForMessage(absl::string_view text, size_t max_bytes) {
  std::string out;
  bool last_was_space = false;
  size_t i = 0;
  while (i < text.size() && out.size() < max_bytes) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::string piece;
    size_t consumed = 1;
    if (c == ' ') {
      // Collapse runs of spaces: HTML error pages are mostly indentation.
      if (last_was_space) {
        ++i;
        continue;
      }
      piece = " ";
    } else if (c == '\n') {
      piece = "\\n";
    } else if (c == '\r') {
      piece = "\\r";
    } else if (c == '\t') {
      piece = "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      piece = absl::StrFormat("\\x%02x", c);
    } else if (c < 0x80) {
      piece = std::string(1, static_cast<char>(c));
    } else if (size_t length = Utf8SequenceLength(text.substr(i)); length > 0) {
      piece = std::string(text.substr(i, length));
      consumed = length;
    } else {
      piece = absl::StrFormat("\\x%02x", c);
    }
    if (out.size() + piece.size() > max_bytes) break;
    out += piece;
    last_was_space = c == ' ';
    i += consumed;
  }
  if (i < text.size()) out += "...";
  return out;
}

}  // namespace agentauth
