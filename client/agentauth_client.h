// agentauth::Client: the C++ way to ask an agentauth daemon for access tokens.
//
// A thin layer over the generated TokenService stub that speaks absl::Status instead of
// grpc::Status and absl::Duration instead of protobuf durations and raw deadlines:
//
//   agentauth::Client client("localhost:50051");
//   absl::StatusOr<agentauth::v1::GetAccessTokenResponse> token =
//       client.GetAccessToken({.client = "reports", .scopes = {"reports.read"}});
//   if (!token.ok()) return token.status();
//   request.AddHeader("Authorization", token->authorization());
//
// The service's error codes and what they mean for a retry are documented in
// proto/agentauth/v1/token_service.proto.

#ifndef AGENTAUTH_CLIENT_AGENTAUTH_CLIENT_H_
#define AGENTAUTH_CLIENT_AGENTAUTH_CLIENT_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agentauth/v1/token_service.grpc.pb.h"
#include "client/health_check.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/security/credentials.h"

namespace agentauth {

// What to ask GetAccessToken for. Only `client` is required. Every field has an initializer so
// that designated initializers naming only some fields compile cleanly under GCC 12's -Wextra.
struct TokenOptions {
  // Configured name of the client (not its OAuth client_id).
  std::string client{};

  // Scopes the token must carry; empty means the client's configured scopes.
  std::vector<std::string> scopes{};

  // Absolute URI of the API the token is for (RFC 8707 resource); empty means none.
  std::string audience{};

  // The token must stay valid at least this long after the answer. Unset means the client's
  // configured default. Must be finite and not negative.
  std::optional<absl::Duration> min_validity{};

  // Fetch a new token even if a cached one is valid, e.g. after an API rejected it.
  bool force_refresh = false;

  // Deadline of the call, counted from when it starts. absl::InfiniteDuration() means none.
  absl::Duration timeout = absl::Seconds(30);
};

// How to reach a daemon and prove who is calling. Only `target` is required.
struct ConnectionOptions {
  // "host:port", "unix:/path" or any gRPC target URI.
  std::string target{};
  // PEM CA bundle to verify the daemon's TLS certificate with. Set: connect with TLS.
  std::string tls_ca_file{};
  // PEM client certificate chain and key, for a daemon that asks for mutual TLS. Require
  // tls_ca_file.
  std::string tls_cert_file{};
  std::string tls_key_file{};
  // A file holding a bearer token (a Kubernetes service account token), sent as
  // `authorization: Bearer <token>` with every call and re-read for every call, since the
  // kubelet rotates projected tokens in place.
  std::string token_file{};
};

// A connection to one agentauth daemon.
//
// Errors: a failed call returns the gRPC status converted to absl::Status with the same code
// and message, so the codes documented in token_service.proto hold: NOT_FOUND for an unknown
// client, UNAVAILABLE when the provider or the daemon itself cannot be reached, and so on.
// DEADLINE_EXCEEDED means the call's timeout passed.
//
// Thread-safe: every method may be called concurrently from any number of threads.
class Client {
 public:
  // Connects to `target` ("host:port", or any gRPC target URI such as "unix:/path") with
  // `credentials`, plain text by default. The connection is made lazily, by the first call or
  // by WaitUntilReachable.
  explicit Client(const std::string& target, std::shared_ptr<grpc::ChannelCredentials> credentials =
                                                 grpc::InsecureChannelCredentials());

  // Uses an existing channel, e.g. one with custom channel arguments. Shares its ownership.
  // `token_file` as in ConnectionOptions; empty: no token. REQUIRES: channel != nullptr.
  explicit Client(std::shared_ptr<grpc::Channel> channel, std::string token_file = "");

  // Connects as `options` say. INVALID_ARGUMENT naming the option when a TLS file cannot be
  // read or the combination makes no sense (a client certificate without a CA bundle).
  static absl::StatusOr<std::unique_ptr<Client>> Connect(const ConnectionOptions& options);

  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Returns an access token for `options.client`, from the daemon's cache or fetched anew.
  // Returns INVALID_ARGUMENT without calling the daemon when options.min_validity is infinite.
  absl::StatusOr<v1::GetAccessTokenResponse> GetAccessToken(const TokenOptions& options) const;

  // Returns the state of `client`, or of every configured client when `client` is empty.
  // `timeout` is the call's deadline, as TokenOptions::timeout.
  absl::StatusOr<v1::GetStatusResponse> GetStatus(std::string client, absl::Duration timeout) const;

  // Asks the daemon's grpc.health.v1 service about `service` ("" for the daemon as a whole,
  // which is SERVING once its start-up prewarm is done and NOT_SERVING while it drains).
  // `timeout` is the call's deadline. Errors as CallHealthCheck (client/health_check.h).
  absl::StatusOr<ServingStatus> CheckHealth(absl::string_view service,
                                            absl::Duration timeout) const;

  // Connects the channel if needed and returns OK once it is ready, or UNAVAILABLE when it is
  // not ready within `timeout`. Says nothing about whether the peer is an agentauth daemon.
  absl::Status WaitUntilReachable(absl::Duration timeout) const;

  // Whether the channel has a working connection right now; never starts connecting. After a
  // call failed UNAVAILABLE, false means the daemon could not be reached (or the connection
  // broke), while true means the daemon answered and the provider is what was unavailable.
  bool IsConnected() const;

 private:
  // Adds the bearer token, if any, to a call. FAILED_PRECONDITION naming the file when it
  // cannot be read.
  absl::Status Authenticate(grpc::ClientContext& context) const;

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::TokenService::Stub> stub_;
  std::string token_file_;
};

}  // namespace agentauth

#endif  // AGENTAUTH_CLIENT_AGENTAUTH_CLIENT_H_
