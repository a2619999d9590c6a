#include "server/metrics/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace agentauth {
namespace {

// The value of the one sample of `name` whose labels include all of `labels`; -1 when there is
// none. For a histogram, its sample count.
double ValueOf(const Metrics& metrics, const std::string& name,
               const std::map<std::string, std::string>& labels) {
  for (const prometheus::MetricFamily& family : metrics.registry()->Collect()) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      std::map<std::string, std::string> found;
      for (const prometheus::ClientMetric::Label& label : metric.label) {
        found[label.name] = label.value;
      }
      bool matches = true;
      for (const auto& [key, value] : labels) matches = matches && found[key] == value;
      if (!matches) continue;
      if (family.type == prometheus::MetricType::Histogram) {
        return static_cast<double>(metric.histogram.sample_count);
      }
      if (family.type == prometheus::MetricType::Gauge) return metric.gauge.value;
      return metric.counter.value;
    }
  }
  return -1;
}

class MetricsTest : public ::testing::Test {
 protected:
  Metrics metrics_{"test"};
};

TEST_F(MetricsTest, RepeatedTokenRequestsAccumulateInOneSeriesPerLabelSet) {
  for (int i = 0; i < 3; ++i) metrics_.TokenRequest("reports", "hit");
  metrics_.TokenRequest("reports", "miss");
  metrics_.TokenRequest("exports", "hit");
  metrics_.TokenRequest("reports", "error", "UNAVAILABLE");

  EXPECT_EQ(ValueOf(metrics_, "agentauth_token_requests_total",
                    {{"client", "reports"}, {"result", "hit"}, {"code", "OK"}}),
            3);
  EXPECT_EQ(ValueOf(metrics_, "agentauth_token_requests_total",
                    {{"client", "reports"}, {"result", "miss"}, {"code", "OK"}}),
            1);
  EXPECT_EQ(ValueOf(metrics_, "agentauth_token_requests_total",
                    {{"client", "exports"}, {"result", "hit"}, {"code", "OK"}}),
            1);
  EXPECT_EQ(ValueOf(metrics_, "agentauth_token_requests_total",
                    {{"client", "reports"}, {"result", "error"}, {"code", "UNAVAILABLE"}}),
            1);
}

TEST_F(MetricsTest, LabelValuesThatConcatenateAlikeStayApart) {
  metrics_.TokenRequest("ab", "c");
  metrics_.TokenRequest("a", "bc");

  EXPECT_EQ(ValueOf(metrics_, "agentauth_token_requests_total", {{"client", "ab"}}), 1);
  EXPECT_EQ(ValueOf(metrics_, "agentauth_token_requests_total", {{"client", "a"}}), 1);
}

TEST_F(MetricsTest, LongLabelValuesAreCountedToo) {
  const std::string long_name(300, 'x');
  metrics_.TokenRequest(long_name, "hit");
  metrics_.TokenRequest(long_name, "hit");

  EXPECT_EQ(ValueOf(metrics_, "agentauth_token_requests_total", {{"client", long_name}}), 2);
}

TEST_F(MetricsTest, WaitersGoUpAndDownPerClient) {
  metrics_.WaitersChanged("reports", 1);
  metrics_.WaitersChanged("reports", 1);
  metrics_.WaitersChanged("exports", 1);
  metrics_.WaitersChanged("reports", -1);

  EXPECT_EQ(ValueOf(metrics_, "agentauth_token_waiters", {{"client", "reports"}}), 1);
  EXPECT_EQ(ValueOf(metrics_, "agentauth_token_waiters", {{"client", "exports"}}), 1);
}

TEST_F(MetricsTest, RpcsAreCountedByMethodAndCodeAndTimedByMethod) {
  metrics_.RpcStarted("GetAccessToken");
  metrics_.RpcStarted("GetAccessToken");
  metrics_.RpcStarted("GetStatus");
  metrics_.RpcHandled("GetAccessToken", "OK", 0.001);
  metrics_.RpcHandled("GetAccessToken", "NOT_FOUND", 0.002);
  metrics_.RpcHandled("GetStatus", "OK", 0.003);

  EXPECT_EQ(ValueOf(metrics_, "grpc_server_started_total", {{"grpc_method", "GetAccessToken"}}), 2);
  EXPECT_EQ(ValueOf(metrics_, "grpc_server_started_total", {{"grpc_method", "GetStatus"}}), 1);
  EXPECT_EQ(ValueOf(metrics_, "grpc_server_handled_total",
                    {{"grpc_method", "GetAccessToken"}, {"grpc_code", "NOT_FOUND"}}),
            1);
  EXPECT_EQ(ValueOf(metrics_, "grpc_server_handled_total",
                    {{"grpc_method", "GetAccessToken"}, {"grpc_code", "OK"}}),
            1);
  EXPECT_EQ(ValueOf(metrics_, "grpc_server_handling_seconds", {{"grpc_method", "GetAccessToken"}}),
            2);
  EXPECT_EQ(ValueOf(metrics_, "grpc_server_handling_seconds", {{"grpc_method", "GetStatus"}}), 1);
}

}  // namespace
}  // namespace agentauth
