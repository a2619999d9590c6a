#include "tests/bench/report.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace agentauth::bench {
namespace {

// Three significant digits, without exponent for ordinary sizes.
std::string Number(double value) {
  if (value == 0) return "0";
  const double magnitude = std::fabs(value);
  if (magnitude >= 1000) return absl::StrFormat("%.0f", value);
  if (magnitude >= 100) return absl::StrFormat("%.1f", value);
  if (magnitude >= 10) return absl::StrFormat("%.2f", value);
  return absl::StrFormat("%.3g", value);
}

std::string SpreadText(const std::vector<double>& values) {
  if (values.empty()) return "-";
  const Spread spread = SpreadOf(values);
  if (values.size() == 1) return Number(spread.median);
  return absl::StrCat(Number(spread.median), " [", Number(spread.min), "-", Number(spread.max),
                      "]");
}

nlohmann::json SpreadJson(const std::vector<double>& values) {
  if (values.empty()) return nullptr;
  const Spread spread = SpreadOf(values);
  return {{"median", spread.median}, {"min", spread.min}, {"max", spread.max}, {"rounds", values}};
}

}  // namespace

Spread SpreadOf(std::vector<double> values) {
  if (values.empty()) return {};
  std::sort(values.begin(), values.end());
  const size_t middle = values.size() / 2;
  const double median =
      values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
  return {median, values.front(), values.back()};
}

std::vector<double> Figure::Ratios() const {
  std::vector<double> ratios;
  if (baseline.empty()) return ratios;
  if (baseline.size() == subject.size()) {
    for (size_t i = 0; i < subject.size(); ++i) {
      ratios.push_back(baseline[i] == 0 ? 0 : subject[i] / baseline[i]);
    }
    return ratios;
  }
  const double base = SpreadOf(baseline).median;
  for (double value : subject) ratios.push_back(base == 0 ? 0 : value / base);
  return ratios;
}

std::optional<bool> Figure::Met() const {
  double value = 0;
  switch (target_on) {
    case TargetOn::kNone:
      return std::nullopt;
    case TargetOn::kRatio:
      value = SpreadOf(Ratios()).median;
      break;
    case TargetOn::kSubject:
      // An absolute target holds for every round, not only for the median one.
      value = compare == Compare::kAtLeast ? SpreadOf(subject).min : SpreadOf(subject).max;
      break;
  }
  switch (compare) {
    case Compare::kAtMost:
      return value <= target;
    case Compare::kAtLeast:
      return value >= target;
    case Compare::kLessThan:
      return value < target;
  }
  return std::nullopt;
}

std::string Figure::TargetText() const {
  if (target_on == TargetOn::kNone) return "-";
  const char* op = compare == Compare::kAtMost ? "<=" : (compare == Compare::kAtLeast ? ">=" : "<");
  if (target_on == TargetOn::kRatio) return absl::StrCat("ratio ", op, " ", Number(target));
  return absl::StrCat(op, " ", Number(target), unit.empty() ? "" : " ", unit);
}

int Report::MissedTargets() const {
  int missed = 0;
  for (const Figure& figure : figures_) {
    if (figure.Met() == false) ++missed;
  }
  return missed;
}

void Report::PrintTable(std::ostream& out) const {
  const std::vector<std::string> header = {"scenario",   "figure", "unit",   "baseline",
                                           "agentauthd", "ratio",  "target", "met"};
  std::vector<std::vector<std::string>> rows = {header};
  for (const Figure& figure : figures_) {
    const std::optional<bool> met = figure.Met();
    rows.push_back({figure.scenario, figure.name, figure.unit, SpreadText(figure.baseline),
                    SpreadText(figure.subject), SpreadText(figure.Ratios()), figure.TargetText(),
                    met.has_value() ? (*met ? "yes" : "NO") : "-"});
  }
  std::vector<size_t> widths(header.size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i] + std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out << line.substr(0, line.find_last_not_of(' ') + 1) << "\n";
  }
  out << "values: median [min-max] over the rounds; ratio = agentauthd / baseline per round\n";
  for (const std::string& error : errors_) out << "ERROR " << error << "\n";
}

std::string Report::Json(const std::string& machine, const std::string& settings) const {
  nlohmann::json figures = nlohmann::json::array();
  for (const Figure& figure : figures_) {
    const std::optional<bool> met = figure.Met();
    figures.push_back({{"scenario", figure.scenario},
                       {"figure", figure.name},
                       {"unit", figure.unit},
                       {"baseline", SpreadJson(figure.baseline)},
                       {"agentauthd", SpreadJson(figure.subject)},
                       {"ratio", SpreadJson(figure.Ratios())},
                       {"target", figure.TargetText()},
                       {"met", met.has_value() ? nlohmann::json(*met) : nlohmann::json(nullptr)},
                       {"note", figure.note}});
  }
  const nlohmann::json document = {
      {"machine", machine}, {"settings", settings}, {"figures", figures}, {"errors", errors_}};
  return document.dump(2);
}

}  // namespace agentauth::bench
