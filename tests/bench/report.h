// The benchmark's results: each figure with its per-round values for the baseline and for the
// subject, their ratio, and the target it is held to. Printed as one table and written as JSON.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace agentauth::bench {

// The median of a round's values with the smallest and largest.
struct Spread {
  double median = 0;
  double min = 0;
  double max = 0;
};
Spread SpreadOf(std::vector<double> values);

struct Figure {
  enum class Compare { kAtMost, kAtLeast, kLessThan };
  // What the target is compared with: the ratio subject / baseline, or the subject's value.
  enum class TargetOn { kNone, kRatio, kSubject };

  Figure(std::string scenario_name, std::string figure_name, std::string figure_unit)
      : scenario(std::move(scenario_name)),
        name(std::move(figure_name)),
        unit(std::move(figure_unit)) {}

  std::string scenario;  // "1 hot path"
  std::string name;      // "calls/s"
  std::string unit;      // "calls/s", "us", "ms", "MiB", "" for a count
  // One value per round; baseline is empty when the figure has none.
  std::vector<double> baseline;
  std::vector<double> subject;
  TargetOn target_on = TargetOn::kNone;
  Compare compare = Compare::kAtMost;
  double target = 0;
  std::string note;

  // subject[i] / baseline[i] per round (alternated rounds pair up); empty without a baseline.
  std::vector<double> Ratios() const;
  // nullopt without a target.
  std::optional<bool> Met() const;
  std::string TargetText() const;
};

class Report {
 public:
  void Add(Figure figure) { figures_.push_back(std::move(figure)); }
  // A scenario that could not run, or whose result was wrong (not merely slow).
  void AddError(const std::string& scenario, const std::string& error) {
    errors_.push_back(scenario + ": " + error);
  }

  void PrintTable(std::ostream& out) const;
  // {"machine": ..., "figures": [...], "errors": [...]}.
  std::string Json(const std::string& machine, const std::string& settings) const;

  const std::vector<std::string>& errors() const { return errors_; }
  int MissedTargets() const;

 private:
  std::vector<Figure> figures_;
  std::vector<std::string> errors_;
};

}  // namespace agentauth::bench
