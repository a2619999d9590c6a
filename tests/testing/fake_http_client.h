// An HttpClient that answers from a script and records what it was sent.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/http/http_client.h"

namespace agentauth::testing {

// Answers each URL with its scripted response (or status), the same every time; an unscripted
// URL gets UNAVAILABLE. Thread-safe.
class FakeHttpClient final : public HttpClient {
 public:
  void Answer(const std::string& url, HttpResponse response) {
    std::lock_guard<std::mutex> lock(mutex_);
    answers_[url] = std::move(response);
  }

  void AnswerJson(const std::string& url, int status, const std::string& body) {
    HttpResponse response;
    response.status = status;
    response.headers = {{"content-type", "application/json"}};
    response.body = body;
    Answer(url, std::move(response));
  }

  void Fail(const std::string& url, absl::Status status) {
    std::lock_guard<std::mutex> lock(mutex_);
    failures_[url] = std::move(status);
  }

  void ClearFailure(const std::string& url) {
    std::lock_guard<std::mutex> lock(mutex_);
    failures_.erase(url);
  }

  absl::StatusOr<HttpResponse> Send(const HttpRequest& request) override {
    std::lock_guard<std::mutex> lock(mutex_);
    requests_.push_back(request);
    if (const auto failure = failures_.find(request.url); failure != failures_.end()) {
      return failure->second;
    }
    const auto found = answers_.find(request.url);
    if (found == answers_.end()) {
      return absl::UnavailableError(absl::StrCat("nothing scripted for ", request.url));
    }
    return found->second;
  }

  std::vector<HttpRequest> Requests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }

  // Requests sent to `url`.
  std::vector<HttpRequest> RequestsTo(const std::string& url) const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<HttpRequest> matching;
    for (const HttpRequest& request : requests_) {
      if (request.url == url) matching.push_back(request);
    }
    return matching;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, HttpResponse> answers_;
  std::map<std::string, absl::Status> failures_;
  std::vector<HttpRequest> requests_;
};

}  // namespace agentauth::testing
