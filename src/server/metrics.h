#pragma once
// A small metrics registry and its Prometheus text exposition (format 0.0.4). Families are
// printed in the order they were registered, series within a family sorted by their labels.
// Numbers are written as the Go client writes them (shortest round-trip form), so `le` labels
// read 0.005 or 2.5 and dashboards see the same bucket names as for any other exporter.
// ref: https://prometheus.io/docs/instrumenting/exposition_formats/
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace infera::server {

using Labels = std::vector<std::pair<std::string, std::string>>;

class MetricsRegistry {
 public:
  enum class Type { kCounter, kGauge, kHistogram };
  // Registering a name twice keeps the first registration. A histogram needs its bounds, so
  // add(name, kHistogram, ...) throws infera::Error: use add_histogram.
  void add(const std::string& name, Type type, const std::string& help);
  // upper_bounds: finite, strictly increasing, at least one; the +Inf bucket is implicit.
  // Throws infera::Error otherwise, even when the name is already registered.
  void add_histogram(const std::string& name, const std::string& help,
                     std::vector<double> upper_bounds);
  // Counters only go up: a negative delta is ignored. Unknown names, and names of another
  // type, are ignored by inc, set and observe alike.
  void inc(const std::string& name, double delta = 1, const Labels& labels = {});
  void set(const std::string& name, double value, const Labels& labels = {});
  // A value lands in the first bucket whose bound is >= it (`le` means <=). NaN, and label sets
  // naming `le` (which would clash with the bucket label), are ignored.
  void observe(const std::string& name, double value, const Labels& labels = {});
  // For a histogram: the number of observations.
  double value(const std::string& name, const Labels& labels = {}) const;
  std::string render() const;

 private:
  struct Histogram {
    std::vector<uint64_t> buckets;  // (bounds + 1): per bucket, not cumulative; last is +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  struct Family {
    std::string name, help;
    Type type;
    std::map<std::string, double> series;         // rendered label set -> value (counter, gauge)
    std::vector<double> bounds;                   // histogram upper bounds, without +Inf
    std::map<std::string, Histogram> histograms;  // rendered label set -> histogram
  };
  Family* find(const std::string& name);
  const Family* find(const std::string& name) const;

  mutable std::mutex mutex_;
  std::vector<Family> families_;
};

// Label set as Prometheus writes it: {a="x",b="y"} with \, " and newline escaped; "" when empty.
std::string render_labels(const Labels& labels);

// The server's metrics, registered in a fixed order. Durations are in seconds.
void register_server_metrics(MetricsRegistry* registry);

}  // namespace infera::server
