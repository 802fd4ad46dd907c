#include "server/metrics.h"

#include <cmath>
#include <cstdio>

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

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
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
  std::lock_guard lock(mutex_);
  if (!find(name)) families_.push_back(Family{name, help, type, {}});
}

void MetricsRegistry::inc(const std::string& name, double delta, const Labels& labels) {
  std::lock_guard lock(mutex_);
  Family* f = find(name);
  if (!f || (f->type == Type::kCounter && delta < 0)) return;
  f->series[render_labels(labels)] += delta;
}

void MetricsRegistry::set(const std::string& name, double value, const Labels& labels) {
  std::lock_guard lock(mutex_);
  if (Family* f = find(name)) f->series[render_labels(labels)] = value;
}

double MetricsRegistry::value(const std::string& name, const Labels& labels) const {
  std::lock_guard lock(mutex_);
  const Family* f = find(name);
  if (!f) return 0;
  const auto it = f->series.find(render_labels(labels));
  return it == f->series.end() ? 0 : it->second;
}

std::string MetricsRegistry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const Family& f : families_) {
    out += "# HELP " + f.name + " " + escape(f.help, false) + "\n";
    out += "# TYPE " + f.name + (f.type == Type::kCounter ? " counter\n" : " gauge\n");
    // A family without series still shows a zero when it takes no labels.
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
  r->add("infera_requests_running", T::kGauge, "Requests holding a slot.");
  r->add("infera_requests_waiting", T::kGauge, "Requests queued for a slot.");
}

}  // namespace infera::server
