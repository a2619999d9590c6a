// Verifying Kubernetes service account tokens (projected, audience-bound JWTs) locally: the
// signature against the cluster's JWKS, then iss, aud, exp and nbf.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/callers/jwks.h"
#include "server/common/clock.h"
#include "server/common/logging.h"
#include "server/config/caller_policy_config.h"
#include "server/http/http_client.h"
#include "server/metrics/caller_metrics.h"

namespace agentauth {

// Thread-safe. Borrows `http`, `clock` and `logger`, which must outlive it.
//
// Keys come from `jwks_file`, `jwks_uri`, or the jwks_uri of the issuer's discovery document.
// They are fetched on first use and again after `jwks_refresh`; one fetch at a time (callers
// meanwhile use the last good set, or wait for the first one); a failed fetch keeps the last
// good set. A token signed with an unknown kid triggers a fetch at most once per
// kUnknownKidRefetchInterval, so forged kids cannot make agentauthd hammer the API server.
//
// TODO(callers): a fetch (the first, a stale set, an unknown kid) runs on the gRPC thread of
// the call that needs it and holds that thread up to the 10 s HTTP timeout; moving it to the
// fetch pool would need the gate to finish calls asynchronously, as the token cache does.
class ServiceAccountVerifier {
 public:
  using ReadFile = std::function<absl::StatusOr<std::string>(const std::string&)>;

  static constexpr absl::Duration kUnknownKidRefetchInterval = absl::Seconds(30);
  static constexpr size_t kMaxTokenBytes = 16 << 10;

  // `metrics` (may be null) counts failed key fetches.
  ServiceAccountVerifier(KubernetesCallerAuth config, HttpClient& http, const Clock& clock,
                         Logger& logger, ReadFile read_file, CallerMetrics* metrics = nullptr);

  // The caller identity "serviceaccount:<namespace>/<name>" of a valid token. UNAUTHENTICATED
  // naming what is wrong (expired, wrong audience, bad signature, ...), never quoting the
  // token; UNAVAILABLE when no keys could be obtained yet.
  absl::StatusOr<std::string> Verify(absl::string_view token);

  // Fetches the keys now (at start-up, so that the first caller does not wait). Returns the
  // fetch's error; the last good set stays in use.
  absl::Status Refresh();

 private:
  // The current keys, fetching first when there are none, they are older than jwks_refresh,
  // or `want_kid` is not among them (rate-limited).
  absl::StatusOr<JwksKeys> KeysFor(const std::string& want_kid);
  absl::StatusOr<JwksKeys> FetchKeys();
  absl::StatusOr<std::string> Get(const std::string& url);

  const KubernetesCallerAuth config_;
  HttpClient& http_;
  const Clock& clock_;
  Logger& logger_;
  const ReadFile read_file_;
  CallerMetrics* const metrics_;

  std::mutex mutex_;
  std::condition_variable fetched_;
  JwksKeys keys_ ABSL_GUARDED_BY(mutex_);
  absl::Time keys_time_ ABSL_GUARDED_BY(mutex_) = absl::InfinitePast();
  absl::Time last_attempt_ ABSL_GUARDED_BY(mutex_) = absl::InfinitePast();
  absl::Status last_error_ ABSL_GUARDED_BY(mutex_);
  bool fetching_ ABSL_GUARDED_BY(mutex_) = false;
};

}  // namespace agentauth
