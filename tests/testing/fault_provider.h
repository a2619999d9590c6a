// A misbehaving OpenID provider on loopback, scripted request by request, for fault-injection
// tests (../../shared/cases/provider-quirks.md); a CONNECT proxy to reach it under made-up host
// names; and the certificates for its TLS mode, made with the openssl command at test time.
//
//   std::unique_ptr<FaultProvider> idp = *FaultProvider::Start({});
//   idp->QueueToken(FaultStep::Text(429, "text/plain", "slow down").WithHeader("Retry-After",
//                                                                             "9"));
//   idp->SetTokenDefault(FaultStep::Token("tok-1"));
//   ... point agentauth at idp->base_url() ...
//   ASSERT_TRUE(idp->WaitForTokenRequests(2, absl::Seconds(5)));
//   EXPECT_EQ(idp->TokenRequests()[1].Header("content-length"), "29");
//
// Everything listens on 127.0.0.1 only, on a port the system picks.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace agentauth::testing {

namespace internal {
class LoopbackServer;
class Connection;
}  // namespace internal

// One answer of the FaultProvider. The factories give the common shapes; the fields adjust them.
struct FaultStep {
  // Waited before anything is sent (ended early only when the provider stops).
  absl::Duration delay = absl::ZeroDuration();
  // Reads the request and then sends nothing until the peer closes or the provider stops.
  bool hang = false;
  // After the status line and headers, the rest goes out one byte per interval.
  absl::Duration trickle_interval = absl::ZeroDuration();

  int status = 200;
  // Sent in order after the status line. Unless set here, Content-Length (or Transfer-Encoding:
  // chunked), Content-Encoding: gzip when `gzip` is set, and Connection: close are added.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Compress `body` with gzip before framing it.
  bool gzip = false;
  // Frame the (compressed) body with Transfer-Encoding: chunked, split into chunks at these
  // ascending offsets of the body (none: one chunk).
  bool chunked = false;
  std::vector<size_t> chunk_splits;
  // Close the connection once this many bytes of the (compressed) body are sent. Content-Length
  // still announces the whole body; a chunked body stops inside the chunk holding that offset,
  // and without its last chunk even when the offset is the body's end.
  std::optional<size_t> truncate_at;

  // `status` with `body` labelled application/json.
  static FaultStep Json(int status, std::string body);
  // `status` with `body` labelled `content_type`.
  static FaultStep Text(int status, std::string content_type, std::string body);
  // 200 {"access_token":"<token>","token_type":"Bearer","expires_in":<expires_in>}.
  static FaultStep Token(absl::string_view access_token, int expires_in = 3600);
  // `status` (301, 302, 307, 308) with Location: `location` and an empty body.
  static FaultStep Redirect(int status, std::string location);
  // Accepts, reads the request, never answers.
  static FaultStep Hang();

  FaultStep& WithHeader(std::string name, std::string value);
};

// A request as it reached the provider.
struct RecordedRequest {
  std::string method;
  // As on the request line: "/token", or "http://host/token" when it came through a proxy.
  std::string target;
  // The path of `target`, without a query.
  std::string path;
  // Names in lower case, in the order received.
  std::vector<std::pair<std::string, std::string>> headers;
  // Decoded when it came chunked.
  std::string body;

  // The first value of header `lower_case_name`, or nullopt.
  std::optional<std::string> Header(absl::string_view lower_case_name) const;
};

// An HTTP/1.1 provider on 127.0.0.1 (plain or TLS) that answers
//   a path given to SetDocument                  with its step, every time;
//   <any path>/.well-known/openid-configuration  with the next queued discovery step, else a
//                                                discovery document (see SetDiscovery);
//   <any path>/token                             with the next queued token step, else the
//                                                token default (500 "nothing scripted");
//   anything else                                with 404.
// Each connection carries one request and is then closed. Every request is recorded once it
// has been read in full, before it is answered.
//
// Thread-safe. The destructor closes every connection (ending hangs and trickles) and joins
// all threads.
class FaultProvider {
 public:
  struct Options {
    // PEM certificate chain and key: serve https. Both empty: plain http.
    std::string tls_certificate_file;
    std::string tls_key_file;
    // The host named in base_url(): "127.0.0.1", "localhost", or a name that reaches this
    // provider only through a ConnectProxy. Ignored by the listener, which is 127.0.0.1.
    std::string host = "127.0.0.1";
    // base_url() names no port (443 or 80), for a provider reached through a ConnectProxy.
    bool omit_port_in_url = false;
  };

  // Listens on 127.0.0.1 at a port the system picks. UNAVAILABLE when it cannot, INVALID_ARGUMENT
  // when the TLS files cannot be loaded.
  static absl::StatusOr<std::unique_ptr<FaultProvider>> Start(const Options& options);
  ~FaultProvider();

  int port() const;
  // "http://127.0.0.1:<port>", or "https://<host>:<port>" in TLS mode.
  std::string base_url() const;

  // What the default discovery document names: by default the issuer base_url() and the token
  // endpoint base_url() + "/token".
  void SetDiscovery(std::string issuer, std::string token_endpoint);
  // The default discovery document as JSON, e.g. to serve it gzip-compressed from a step.
  std::string DiscoveryDocument() const;

  void QueueDiscovery(FaultStep step);
  void SetDiscoveryDefault(FaultStep step);
  void QueueToken(FaultStep step);
  // Answers every request for exactly `path` (e.g. "/keys") with `step`, before the rules above.
  void SetDocument(std::string path, FaultStep step);
  void SetTokenDefault(FaultStep step);

  // Every request received so far, in order.
  std::vector<RecordedRequest> Requests() const;
  // The requests for a token path, in order.
  std::vector<RecordedRequest> TokenRequests() const;
  int TokenRequestCount() const;
  // Connections accepted so far, including those whose TLS handshake failed.
  int Connections() const;
  // Connections whose TLS handshake failed (e.g. the client rejected the certificate).
  int FailedHandshakes() const;

  // Waits until at least `count` requests (of any path) have been recorded. False after
  // `timeout`.
  bool WaitForRequests(int count, absl::Duration timeout) const;
  // Waits until at least `count` token requests have been recorded. False after `timeout`.
  bool WaitForTokenRequests(int count, absl::Duration timeout) const;
  // Waits until at least `count` connections have been closed after (or while) being answered.
  bool WaitForClosedConnections(int count, absl::Duration timeout) const;

 private:
  struct State;

  FaultProvider();
  void Serve(internal::Connection& connection);

  std::unique_ptr<State> state_;
  std::unique_ptr<internal::LoopbackServer> server_;
  Options options_;
};

// An HTTP proxy on 127.0.0.1 that tunnels CONNECT requests and forwards absolute-form requests
// ("POST http://host/path") to loopback ports chosen by host name, whatever port was asked for,
// so that made-up names such as idp.example.test need no DNS. It records each request's first
// line and headers (Proxy-Authorization included). Thread-safe; the destructor closes every
// tunnel and joins its threads.
class ConnectProxy {
 public:
  struct Options {
    // Host name (lower case, without port) -> port on 127.0.0.1. Other hosts get 502.
    std::map<std::string, int> routes;
    // When not 0, every request gets this status (407 comes with Proxy-Authenticate: Basic).
    int refuse_with = 0;
  };

  struct Request {
    // "CONNECT idp.example.test:443 HTTP/1.1", or "POST http://host/token HTTP/1.1".
    std::string request_line;
    // Names in lower case.
    std::vector<std::pair<std::string, std::string>> headers;

    std::optional<std::string> Header(absl::string_view lower_case_name) const;
  };

  static absl::StatusOr<std::unique_ptr<ConnectProxy>> Start(Options options);
  ~ConnectProxy();

  int port() const;
  // "http://127.0.0.1:<port>".
  std::string url() const;
  std::vector<Request> Requests() const;

 private:
  struct State;

  ConnectProxy();
  void Serve(internal::Connection& connection);

  std::unique_ptr<State> state_;
  std::unique_ptr<internal::LoopbackServer> server_;
};

// A private certificate authority and server certificates issued by it, made with the openssl
// command in a directory of the caller's. Keys exist only there, for the test's lifetime.
class TestCertificateAuthority {
 public:
  // Makes a CA named `name` (files <dir>/<name>-ca.pem and -ca.key). INTERNAL with openssl's
  // output when the command fails.
  static absl::StatusOr<TestCertificateAuthority> Create(const std::string& dir,
                                                         const std::string& name);

  struct ServerCertificate {
    std::string certificate_file;  // The leaf, then the CA.
    std::string key_file;
  };
  // A certificate for `names` (DNS names or IPv4 addresses), signed by this CA.
  absl::StatusOr<ServerCertificate> Issue(const std::string& file_stem,
                                          const std::vector<std::string>& names) const;

  // A client certificate (extendedKeyUsage clientAuth) with subject CN `common_name` and the
  // subjectAltName entries `alt_names` in openssl's syntax ("URI:spiffe://td/x", "DNS:a.b").
  absl::StatusOr<ServerCertificate> IssueClient(const std::string& file_stem,
                                                const std::string& common_name,
                                                const std::vector<std::string>& alt_names) const;

  // The CA certificate, PEM.
  const std::string& certificate_file() const { return certificate_file_; }

 private:
  absl::StatusOr<ServerCertificate> IssueLeaf(const std::string& file_stem,
                                              const std::string& common_name,
                                              const std::vector<std::string>& alt_names,
                                              const std::string& extended_key_usage) const;

  std::string dir_;
  std::string certificate_file_;
  std::string key_file_;
};

// Sets or unsets an environment variable (e.g. https_proxy, which libcurl reads per request)
// and restores its old value when destroyed. Not thread-safe against threads reading the
// environment: create and destroy it while no request is being made.
class ScopedEnv {
 public:
  // nullopt unsets the variable.
  ScopedEnv(std::string name, std::optional<std::string> value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

  // Unsets every variable through which libcurl would pick a proxy, for the caller's lifetime
  // of the returned objects.
  static std::vector<std::unique_ptr<ScopedEnv>> WithoutProxies();

 private:
  std::string name_;
  std::optional<std::string> old_value_;
};

// `text` compressed with gzip.
std::string Gzip(absl::string_view text);
// A gzip stream of `size` zero bytes, made without holding them in memory: a compression bomb.
std::string GzipOfZeros(size_t size);
// `text` as a valid brotli stream of stored (uncompressed) meta-blocks, for Content-Encoding: br
// without a brotli library.
std::string BrotliStored(absl::string_view text);

}  // namespace agentauth::testing
