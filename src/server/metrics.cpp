#include "server/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string_view>

#include "core/error.h"

namespace infera::server {
namespace {

std::string escape(const std::string& s, bool quote) {
  std::string out;
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

// Go's strconv.FormatFloat(v, 'g', -1, 64), which client_golang uses for values and `le`: the
// shortest digits that read back to v, in exponent form when the exponent is < -4 or >= 6.
// %.17g would print 0.1 as 0.10000000000000001, a different `le` string from every other client.
std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == 0) return "0";  // also -0, as Go writes it
  char buf[64];
  const auto sci = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  const std::string_view s(buf, sci.ptr - buf);
  // to_chars does not terminate the string; parse the exponent within it ("+" is not accepted
  // by from_chars, and the exponent always has a sign).
  int exponent = 0;
  const size_t e = s.find('e');
  std::from_chars(s.data() + e + 2, s.data() + s.size(), exponent);
  if (s[e + 1] == '-') exponent = -exponent;
  if (exponent < -4 || exponent >= 6) return std::string(s);
  const auto fixed = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return std::string(buf, fixed.ptr);
}

// The bucket label goes last, after the series' own labels, as the Go client writes it.
std::string with_le(const std::string& labels, double bound) {
  const std::string le = "le=\"" + format_value(bound) + "\"}";
  if (labels.empty()) return "{" + le;
  return labels.substr(0, labels.size() - 1) + "," + le;
}

void render_histogram(const std::string& name, const std::string& labels,
                      const std::vector<double>& bounds, const std::vector<uint64_t>& buckets,
                      double sum, uint64_t count, std::string* out) {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    cumulative += buckets[i];
    const double bound = i < bounds.size() ? bounds[i] : INFINITY;
    *out += name + "_bucket" + with_le(labels, bound) + " " +
            format_value(static_cast<double>(cumulative)) + "\n";
  }
  *out += name + "_sum" + labels + " " + format_value(sum) + "\n";
  *out += name + "_count" + labels + " " + format_value(static_cast<double>(count)) + "\n";
}

const char* type_name(MetricsRegistry::Type type) {
  switch (type) {
    case MetricsRegistry::Type::kCounter:
      return "counter";
    case MetricsRegistry::Type::kGauge:
      return "gauge";
    case MetricsRegistry::Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

std::string render_labels(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ",";
    out += labels[i].first + "=\"" + escape(labels[i].second, true) + "\"";
  }
  return out + "}";
}

MetricsRegistry::Family* MetricsRegistry::find(const std::string& name) {
  for (Family& f : families_)
    if (f.name == name) return &f;
  return nullptr;
}

const MetricsRegistry::Family* MetricsRegistry::find(const std::string& name) const {
  for (const Family& f : families_)
    if (f.name == name) return &f;
  return nullptr;
}

void MetricsRegistry::add(const std::string& name, Type type, const std::string& help) {
  if (type == Type::kHistogram)
    throw Error(ErrorKind::kInvalidArgument,
                "histogram " + name + " needs bucket bounds: register it with add_histogram");
  std::lock_guard lock(mutex_);
  if (!find(name)) families_.push_back(Family{name, help, type, {}, {}, {}});
}

void MetricsRegistry::add_histogram(const std::string& name, const std::string& help,
                                    std::vector<double> upper_bounds) {
  if (upper_bounds.empty())
    throw Error(ErrorKind::kInvalidArgument, "histogram " + name + " has no bucket bounds");
  for (size_t i = 0; i < upper_bounds.size(); ++i) {
    if (!std::isfinite(upper_bounds[i]))
      throw Error(ErrorKind::kInvalidArgument, "histogram " + name + ": bucket bound " +
                                                   format_value(upper_bounds[i]) +
                                                   " is not finite (the +Inf bucket is implicit)");
    if (i && upper_bounds[i] <= upper_bounds[i - 1])
      throw Error(ErrorKind::kInvalidArgument,
                  "histogram " + name + ": bucket bounds must increase strictly, " +
                      format_value(upper_bounds[i - 1]) + " then " + format_value(upper_bounds[i]));
  }
  std::lock_guard lock(mutex_);
  if (!find(name))
    families_.push_back(Family{name, help, Type::kHistogram, {}, std::move(upper_bounds), {}});
}

void MetricsRegistry::inc(const std::string& name, double delta, const Labels& labels) {
  std::lock_guard lock(mutex_);
  Family* f = find(name);
  if (!f || f->type == Type::kHistogram || (f->type == Type::kCounter && delta < 0)) return;
  f->series[render_labels(labels)] += delta;
}

void MetricsRegistry::set(const std::string& name, double value, const Labels& labels) {
  std::lock_guard lock(mutex_);
  Family* f = find(name);
  if (f && f->type != Type::kHistogram) f->series[render_labels(labels)] = value;
}

void MetricsRegistry::observe(const std::string& name, double value, const Labels& labels) {
  if (std::isnan(value)) return;
  for (const auto& [key, unused] : labels)
    if (key == "le") return;
  const std::string key = render_labels(labels);
  std::lock_guard lock(mutex_);
  Family* f = find(name);
  if (!f || f->type != Type::kHistogram) return;
  Histogram& h = f->histograms[key];
  if (h.buckets.empty()) h.buckets.assign(f->bounds.size() + 1, 0);
  const auto bucket = std::lower_bound(f->bounds.begin(), f->bounds.end(), value);
  ++h.buckets[bucket - f->bounds.begin()];
  h.sum += value;
  ++h.count;
}

double MetricsRegistry::value(const std::string& name, const Labels& labels) const {
  std::lock_guard lock(mutex_);
  const Family* f = find(name);
  if (!f) return 0;
  const std::string key = render_labels(labels);
  if (f->type == Type::kHistogram) {
    const auto it = f->histograms.find(key);
    return it == f->histograms.end() ? 0 : static_cast<double>(it->second.count);
  }
  const auto it = f->series.find(key);
  return it == f->series.end() ? 0 : it->second;
}

std::string MetricsRegistry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const Family& f : families_) {
    out += "# HELP " + f.name + " " + escape(f.help, false) + "\n";
    out += "# TYPE " + f.name + " " + type_name(f.type) + "\n";
    // A family without series still shows zeros when it takes no labels, so a scraper sees
    // every family from the first scrape and rate() has a starting point.
    if (f.type == Type::kHistogram) {
      if (f.histograms.empty())
        render_histogram(f.name, "", f.bounds, std::vector<uint64_t>(f.bounds.size() + 1, 0), 0, 0,
                         &out);
      for (const auto& [labels, h] : f.histograms)
        render_histogram(f.name, labels, f.bounds, h.buckets, h.sum, h.count, &out);
      continue;
    }
    if (f.series.empty()) out += f.name + " 0\n";
    for (const auto& [labels, v] : f.series) out += f.name + labels + " " + format_value(v) + "\n";
  }
  return out;
}

void register_server_metrics(MetricsRegistry* r) {
  using T = MetricsRegistry::Type;
  r->add("infera_requests_total", T::kCounter,
         "Generation requests finished, by outcome (ok, invalid, rejected, cancelled, error).");
  r->add("infera_prompt_tokens_total", T::kCounter, "Prompt tokens evaluated.");
  r->add("infera_generated_tokens_total", T::kCounter, "Tokens generated.");
  r->add("infera_requests_running", T::kGauge, "Requests being generated (in the forward batch).");
  r->add("infera_requests_waiting", T::kGauge, "Requests waiting to be admitted.");

  // CPU inference of small models: a token takes milliseconds, a long prompt or a deep queue
  // seconds to a minute. Neighbouring bounds differ by at most 2.5x, so an interpolated quantile
  // is never off by more than that factor.
  const std::vector<double> latency = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                       0.5,   1,      2.5,   5,    10,    20,   30,  60};
  // Whole requests add their generation time on top, so they reach five minutes.
  std::vector<double> request = latency;
  request.insert(request.end(), {120, 300});
  // Decode steps cluster between a few and a few hundred milliseconds; finer steps there tell
  // a batching or cache regression apart from noise.
  const std::vector<double> inter_token = {0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015,
                                           0.02,  0.03,   0.05,  0.075,  0.1,  0.15,
                                           0.2,   0.3,    0.5,   0.75,   1,    2.5};
  r->add_histogram("infera_time_to_first_token_seconds",
                   "Seconds from a request's arrival to its first generated token.", latency);
  r->add_histogram("infera_inter_token_latency_seconds",
                   "Seconds between consecutive generated tokens of one request.", inter_token);
  r->add_histogram("infera_request_duration_seconds",
                   "Seconds from a request's arrival until it finished.", request);
  r->add_histogram("infera_queue_time_seconds",
                   "Seconds from a request's arrival to the start of its prefill.", latency);

  r->add("infera_kv_cache_usage_ratio", T::kGauge,
         "Fraction of the KV cache blocks in use, from 0 to 1.");
  r->add("infera_kv_cache_capacity_tokens", T::kGauge,
         "Token positions the shared KV cache holds.");
  r->add("infera_prefix_cache_query_tokens_total", T::kCounter,
         "Prompt tokens looked up in the prefix cache.");
  r->add("infera_prefix_cache_hit_tokens_total", T::kCounter,
         "Prompt tokens found in the prefix cache and not recomputed.");
  r->add("infera_preemptions_total", T::kCounter,
         "Sequences evicted from the KV cache, to be recomputed later.");
}

}  // namespace infera::server
