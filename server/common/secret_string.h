// A string holding a secret (a client secret, a private key) that is overwritten in memory when
// it is replaced or freed, and that cannot be printed or concatenated by accident.
#pragma once

#include <openssl/crypto.h>

#include <ostream>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace agentauth {

// Copies and moves leave no readable copy behind: a move copies and then wipes the source,
// because moving a short std::string copies its inline buffer and leaves the bytes there.
//
// What this cannot reach: copies made by the code the secret is handed to (libcurl, OpenSSL,
// the request body), and a std::string's old buffer when it grew. Not thread-safe (like
// std::string).
class SecretString {
 public:
  SecretString() = default;
  // Takes `value` and wipes what the moved-from parameter still holds. Pass an rvalue: a copied
  // lvalue stays behind, unwiped, in the caller.
  explicit SecretString(std::string value) : value_(std::move(value)) { Wipe(value); }
  SecretString(const SecretString& other) : value_(other.value_) {}
  SecretString(SecretString&& other) noexcept : value_(other.value_) { other.Clear(); }
  SecretString& operator=(const SecretString& other) {
    if (this != &other) {
      Clear();
      value_ = other.value_;
    }
    return *this;
  }
  SecretString& operator=(SecretString&& other) noexcept {
    if (this != &other) {
      Clear();
      value_ = other.value_;
      other.Clear();
    }
    return *this;
  }
  ~SecretString() { Wipe(value_); }

  // The secret itself, for the one place that must send or use it.
  const std::string& value() const { return value_; }
  bool empty() const { return value_.empty(); }

  // Overwrites and empties.
  void Clear() {
    Wipe(value_);
    value_.clear();
  }

  friend bool operator==(const SecretString& a, const SecretString& b) {
    return a.value_ == b.value_;
  }
  friend bool operator==(const SecretString& a, absl::string_view b) { return a.value_ == b; }

  // Never the value: a SecretString that ends up in a log or a test failure says only this.
  friend std::ostream& operator<<(std::ostream& out, const SecretString& secret) {
    return out << "[secret of " << secret.value_.size() << " bytes]";
  }

 private:
  static void Wipe(std::string& text) {
    // capacity(), not size(): bytes of an earlier, longer value may still sit past the end.
    if (text.capacity() > 0) OPENSSL_cleanse(text.data(), text.capacity());
  }

  std::string value_;
};

}  // namespace agentauth
