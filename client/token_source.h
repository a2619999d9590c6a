// agentauth::TokenSource: one client's access token, kept in the caller's process until
// min_validity before it expires, and the gRPC call credentials built on it.
//
//   auto client = std::make_shared<agentauth::Client>("127.0.0.1:50051");
//   auto source = std::make_shared<agentauth::TokenSource>(
//       client, agentauth::TokenSource::Options{.token = {.client = "reports"}});
//   absl::StatusOr<std::string> header = source->Authorization();    // for HTTP
//   auto credentials = agentauth::TokenCallCredentials(source);      // for gRPC calls

#ifndef AGENTAUTH_CLIENT_TOKEN_SOURCE_H_
#define AGENTAUTH_CLIENT_TOKEN_SOURCE_H_

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/agentauth_client.h"
#include "grpcpp/security/credentials.h"

namespace agentauth {

// A token as the daemon gave it.
struct Token {
  std::string access_token;
  // "Bearer <access_token>": the value of an Authorization header.
  std::string authorization;
  absl::Time expires_at;
};

// Thread-safe. Concurrent callers that find no usable token share one GetAccessToken call and
// its result or error; errors are not kept, so the next caller asks again.
class TokenSource {
 public:
  struct Options {
    // What to ask for: client, scopes, audience, the call's timeout. Its min_validity is
    // ignored; the one below is sent.
    TokenOptions token{};

    // A token is kept until this long before it expires, and the daemon is asked for one
    // valid at least this long. For a token living shorter than twice this, half its lifetime
    // is used instead, as the daemon does. Must be finite and not negative.
    absl::Duration min_validity = absl::Seconds(60);

    // The clock deciding whether the held token is still usable; tests move it by hand.
    std::function<absl::Time()> now = [] { return absl::Now(); };
  };

  // Shares ownership of `client`. REQUIRES: client != nullptr.
  TokenSource(std::shared_ptr<const Client> client, Options options);

  // A usable token, from memory or from the daemon. A failed call's status as Client returns
  // it (NOT_FOUND for an unknown client, UNAVAILABLE when the daemon is unreachable, ...),
  // with the client's name in front of the message.
  absl::StatusOr<Token> GetToken();

  // GetToken()'s authorization: "Bearer <token>".
  absl::StatusOr<std::string> Authorization();

  // GetAccessToken calls made so far.
  int rpc_count() const;

  // Callers blocked right now on another caller's GetAccessToken call.
  int waiting_callers() const;

 private:
  struct Flight {
    bool done = false;
    absl::StatusOr<Token> result = absl::UnknownError("not answered yet");
  };

  bool UsableLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  absl::StatusOr<Token> Call();

  const std::shared_ptr<const Client> client_;
  const Options options_;

  mutable std::mutex mutex_;
  // Signalled when a flight is done.
  std::condition_variable landed_;
  std::optional<Token> token_ ABSL_GUARDED_BY(mutex_);
  absl::Time received_at_ ABSL_GUARDED_BY(mutex_);
  std::shared_ptr<Flight> flight_ ABSL_GUARDED_BY(mutex_);
  int rpcs_ ABSL_GUARDED_BY(mutex_) = 0;
  int waiting_ ABSL_GUARDED_BY(mutex_) = 0;
};

// Adds the source's authorization header to every call. Blocking: gRPC runs it on its own
// thread. A failed GetToken fails the call with that status instead of sending no token.
class TokenCredentialsPlugin final : public grpc::MetadataCredentialsPlugin {
 public:
  explicit TokenCredentialsPlugin(std::shared_ptr<TokenSource> source);

  bool IsBlocking() const override { return true; }
  const char* GetType() const override { return "agentauth"; }
  grpc::Status GetMetadata(grpc::string_ref service_url, grpc::string_ref method_name,
                           const grpc::AuthContext& channel_auth_context,
                           std::multimap<grpc::string, grpc::string>* metadata) override;

 private:
  std::shared_ptr<TokenSource> source_;
};

// Call credentials over TokenCredentialsPlugin. gRPC sends them only over secure channels
// (TLS, or grpc::experimental::LocalCredentials).
std::shared_ptr<grpc::CallCredentials> TokenCallCredentials(std::shared_ptr<TokenSource> source);

}  // namespace agentauth

#endif  // AGENTAUTH_CLIENT_TOKEN_SOURCE_H_
