#pragma once
// A small metrics registry and its Prometheus text exposition (format 0.0.4). Families are
// printed in the order they were registered, series within a family sorted by their labels.
// ref: https://prometheus.io/docs/instrumenting/exposition_formats/
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace infera::server {

using Labels = std::vector<std::pair<std::string, std::string>>;

class MetricsRegistry {
 public:
  enum class Type { kCounter, kGauge };
  // Registering a name twice keeps the first registration.
  void add(const std::string& name, Type type, const std::string& help);
  // Counters only go up: a negative delta is ignored. Unknown names are ignored.
  void inc(const std::string& name, double delta = 1, const Labels& labels = {});
  void set(const std::string& name, double value, const Labels& labels = {});
  double value(const std::string& name, const Labels& labels = {}) const;
  std::string render() const;

 private:
  struct Family {
    std::string name, help;
    Type type;
    std::map<std::string, double> series;  // rendered label set -> value
  };
  Family* find(const std::string& name);
  const Family* find(const std::string& name) const;

  mutable std::mutex mutex_;
  std::vector<Family> families_;
};

// Label set as Prometheus writes it: {a="x",b="y"} with \, " and newline escaped; "" when empty.
std::string render_labels(const Labels& labels);

// The server's metrics, registered in a fixed order.
void register_server_metrics(MetricsRegistry* registry);

}  // namespace infera::server
