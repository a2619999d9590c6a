// Lets GoogleTest print Debian's absl::string_view (a class of its own there, not
// std::string_view) as text instead of as a list of characters.
#pragma once

#include <ostream>

#include "absl/strings/string_view.h"

namespace absl {

inline void PrintTo(absl::string_view text, std::ostream* out) { *out << '"' << text << '"'; }

}  // namespace absl
