// The metrics registry's Prometheus text, checked byte for byte.
#include <gtest/gtest.h>

#include <cmath>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "server/metrics.h"

namespace infera::server {
namespace {

TEST(ServerMetrics, ExactExpositionText) {
  MetricsRegistry r;
  register_server_metrics(&r);
  r.inc("infera_requests_total", 1, {{"outcome", "ok"}});
  r.inc("infera_requests_total", 2, {{"outcome", "ok"}});
  r.inc("infera_requests_total", 1, {{"outcome", "cancelled"}});
  r.inc("infera_prompt_tokens_total", 12);
  r.inc("infera_generated_tokens_total", 5);
  r.inc("infera_generated_tokens_total", -4);  // counters never go down
  r.set("infera_requests_running", 2);
  r.set("infera_requests_running", 1);
  r.inc("no_such_metric");
  // The first five families, byte for byte; the families after them are checked below.
  const std::string expected =
      "# HELP infera_requests_total Generation requests finished, by outcome (ok, invalid, "
      "rejected, cancelled, error).\n"
      "# TYPE infera_requests_total counter\n"
      "infera_requests_total{outcome=\"cancelled\"} 1\n"
      "infera_requests_total{outcome=\"ok\"} 3\n"
      "# HELP infera_prompt_tokens_total Prompt tokens evaluated.\n"
      "# TYPE infera_prompt_tokens_total counter\n"
      "infera_prompt_tokens_total 12\n"
      "# HELP infera_generated_tokens_total Tokens generated.\n"
      "# TYPE infera_generated_tokens_total counter\n"
      "infera_generated_tokens_total 5\n"
      "# HELP infera_requests_running Requests being generated (in the forward batch).\n"
      "# TYPE infera_requests_running gauge\n"
      "infera_requests_running 1\n"
      "# HELP infera_requests_waiting Requests waiting to be admitted.\n"
      "# TYPE infera_requests_waiting gauge\n"
      "infera_requests_waiting 0\n";
  const std::string text = r.render();
  EXPECT_EQ(text.substr(0, expected.size()), expected);
  EXPECT_EQ(r.value("infera_requests_total", {{"outcome", "ok"}}), 3);
}

TEST(ServerMetrics, LabelEscapingAndFractions) {
  EXPECT_EQ(render_labels({}), "");
  EXPECT_EQ(render_labels({{"a", "x\"y\\z\n"}, {"b", "2"}}), "{a=\"x\\\"y\\\\z\\n\",b=\"2\"}");
  MetricsRegistry r;
  r.add("g", MetricsRegistry::Type::kGauge, "help with \\ and\nnewline");
  r.set("g", 0.5);
  r.add("g", MetricsRegistry::Type::kCounter, "ignored");
  EXPECT_EQ(r.render(), "# HELP g help with \\\\ and\\nnewline\n# TYPE g gauge\ng 0.5\n");
  // Shortest round-trip form, as the Go client writes it, not %.17g's 0.10000000000000001.
  r.set("g", 0.1);
  EXPECT_EQ(r.render(), "# HELP g help with \\\\ and\\nnewline\n# TYPE g gauge\ng 0.1\n");
}

TEST(ServerMetrics, HistogramWithoutLabels) {
  MetricsRegistry r;
  r.add_histogram("h_seconds", "Latency.", {0.005, 0.1, 1, 2.5, 10});
  // Unobserved, it still shows every bucket at zero, like an unlabelled counter shows 0.
  EXPECT_EQ(r.render(),
            "# HELP h_seconds Latency.\n"
            "# TYPE h_seconds histogram\n"
            "h_seconds_bucket{le=\"0.005\"} 0\n"
            "h_seconds_bucket{le=\"0.1\"} 0\n"
            "h_seconds_bucket{le=\"1\"} 0\n"
            "h_seconds_bucket{le=\"2.5\"} 0\n"
            "h_seconds_bucket{le=\"10\"} 0\n"
            "h_seconds_bucket{le=\"+Inf\"} 0\n"
            "h_seconds_sum 0\n"
            "h_seconds_count 0\n");
  // 0.1, 1 and 2.5 sit exactly on bounds: `le` is <=, so each counts in its own bucket.
  for (double v : {0.1, 0.5, 1.0, 2.5, 100.0}) r.observe("h_seconds", v);
  EXPECT_EQ(r.render(),
            "# HELP h_seconds Latency.\n"
            "# TYPE h_seconds histogram\n"
            "h_seconds_bucket{le=\"0.005\"} 0\n"
            "h_seconds_bucket{le=\"0.1\"} 1\n"
            "h_seconds_bucket{le=\"1\"} 3\n"
            "h_seconds_bucket{le=\"2.5\"} 4\n"
            "h_seconds_bucket{le=\"10\"} 4\n"
            "h_seconds_bucket{le=\"+Inf\"} 5\n"
            "h_seconds_sum 104.1\n"
            "h_seconds_count 5\n");
  EXPECT_EQ(r.value("h_seconds"), 5);
}

TEST(ServerMetrics, HistogramWithLabels) {
  MetricsRegistry r;
  r.add_histogram("h", "Sizes.", {1, 2});
  r.observe("h", 2, {{"model", "b"}, {"kind", "x\"y"}});
  r.observe("h", 0.5, {{"model", "a"}});
  r.observe("h", 3, {{"model", "a"}});
  r.observe("h", -1, {{"model", "a"}});  // below every bound: the first bucket
  // Labelled series only: no unlabelled zero series beside them. `le` comes last.
  EXPECT_EQ(r.render(),
            "# HELP h Sizes.\n"
            "# TYPE h histogram\n"
            "h_bucket{model=\"a\",le=\"1\"} 2\n"
            "h_bucket{model=\"a\",le=\"2\"} 2\n"
            "h_bucket{model=\"a\",le=\"+Inf\"} 3\n"
            "h_sum{model=\"a\"} 2.5\n"
            "h_count{model=\"a\"} 3\n"
            "h_bucket{model=\"b\",kind=\"x\\\"y\",le=\"1\"} 0\n"
            "h_bucket{model=\"b\",kind=\"x\\\"y\",le=\"2\"} 1\n"
            "h_bucket{model=\"b\",kind=\"x\\\"y\",le=\"+Inf\"} 1\n"
            "h_sum{model=\"b\",kind=\"x\\\"y\"} 2\n"
            "h_count{model=\"b\",kind=\"x\\\"y\"} 1\n");
  EXPECT_EQ(r.value("h", {{"model", "a"}}), 3);
  EXPECT_EQ(r.value("h"), 0);
}

TEST(ServerMetrics, BucketBoundsFormattedLikeTheGoClient) {
  MetricsRegistry r;
  r.add_histogram("h", "Bounds.", {1e-5, 0.0001, 0.0075, 123456, 1e6, 1234567});
  EXPECT_EQ(r.render(),
            "# HELP h Bounds.\n"
            "# TYPE h histogram\n"
            "h_bucket{le=\"1e-05\"} 0\n"
            "h_bucket{le=\"0.0001\"} 0\n"
            "h_bucket{le=\"0.0075\"} 0\n"
            "h_bucket{le=\"123456\"} 0\n"
            "h_bucket{le=\"1e+06\"} 0\n"
            "h_bucket{le=\"1.234567e+06\"} 0\n"
            "h_bucket{le=\"+Inf\"} 0\n"
            "h_sum 0\n"
            "h_count 0\n");
}

TEST(ServerMetrics, ValuesFormattedLikeTheGoClient) {
  MetricsRegistry r;
  r.add("g", MetricsRegistry::Type::kGauge, "x");
  auto rendered = [&r](double v) {
    r.set("g", v);
    const std::string text = r.render();
    return text.substr(text.rfind(' ') + 1);
  };
  // Long forms first, so a short one that fails to stop at its own end would show it.
  EXPECT_EQ(rendered(1.2345678901234568e-300), "1.2345678901234568e-300\n");
  EXPECT_EQ(rendered(10), "10\n");
  EXPECT_EQ(rendered(-2.5e-7), "-2.5e-07\n");
  EXPECT_EQ(rendered(-0.5), "-0.5\n");
  EXPECT_EQ(rendered(999999), "999999\n");
  EXPECT_EQ(rendered(1e21), "1e+21\n");
  EXPECT_EQ(rendered(-0.0), "0\n");
  EXPECT_EQ(rendered(0.1 + 0.2), "0.30000000000000004\n");
  EXPECT_EQ(rendered(NAN), "NaN\n");
  EXPECT_EQ(rendered(-INFINITY), "-Inf\n");
}

TEST(ServerMetrics, HistogramRejectsInvalidBounds) {
  MetricsRegistry r;
  EXPECT_THROW(r.add_histogram("h", "x", {}), Error);
  EXPECT_THROW(r.add_histogram("h", "x", {1, 0.5}), Error);
  EXPECT_THROW(r.add_histogram("h", "x", {1, 1}), Error);
  EXPECT_THROW(r.add_histogram("h", "x", {1, INFINITY}), Error);
  EXPECT_THROW(r.add_histogram("h", "x", {-INFINITY, 1}), Error);
  EXPECT_THROW(r.add_histogram("h", "x", {NAN}), Error);
  EXPECT_THROW(r.add(std::string("h"), MetricsRegistry::Type::kHistogram, "x"), Error);
  try {
    r.add_histogram("h", "x", {2, 1});
    FAIL() << "expected infera::Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("2 then 1"), std::string::npos) << e.what();
  }
  EXPECT_EQ(r.render(), "");  // nothing half-registered
  r.add_histogram("h", "x", {1});
  EXPECT_THROW(r.add_histogram("h", "x", {1, 0}), Error);  // bad bounds throw even for a known name
}

TEST(ServerMetrics, MismatchedCallsAreIgnored) {
  MetricsRegistry r;
  r.add_histogram("h", "x", {1});
  r.add("c_total", MetricsRegistry::Type::kCounter, "y");
  const std::string before = r.render();
  r.inc("h");
  r.set("h", 3);
  r.observe("c_total", 1);
  r.observe("missing", 1);
  r.observe("h", NAN);
  r.observe("h", 1, {{"le", "5"}});  // would clash with the bucket label
  EXPECT_EQ(r.render(), before);
}

TEST(ServerMetrics, ConcurrentObservationsAllCount) {
  MetricsRegistry r;
  r.add_histogram("h", "x", {0.5});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&r] {
      for (int i = 0; i < 1000; ++i) r.observe("h", (i % 2) ? 0.25 : 1.0);
    });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(r.value("h"), 4000);
  const std::string text = r.render();
  EXPECT_NE(text.find("h_bucket{le=\"0.5\"} 2000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_sum 2500\n"), std::string::npos) << text;
}

// Prometheus naming rules for every server family, so promtool and dashboards accept them.
// ref: https://prometheus.io/docs/practices/naming/
TEST(ServerMetrics, ServerFamiliesFollowNamingRules) {
  MetricsRegistry r;
  register_server_metrics(&r);
  std::istringstream lines(r.render());
  std::map<std::string, std::string> types;  // family -> type
  std::set<std::string> helped;
  std::vector<std::string> samples;
  const std::regex name_re("infera_[a-z0-9_]*[a-z0-9]");
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# HELP ", 0) == 0) {
      std::istringstream in(line.substr(7));
      std::string name, help;
      in >> name;
      std::getline(in >> std::ws, help);
      EXPECT_TRUE(!help.empty() && help.back() == '.') << line;
      EXPECT_TRUE(helped.insert(name).second) << "HELP twice: " << name;
    } else if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream in(line.substr(7));
      std::string name, type;
      in >> name >> type;
      EXPECT_TRUE(types.emplace(name, type).second) << "TYPE twice: " << name;
      EXPECT_TRUE(helped.count(name)) << "TYPE before HELP: " << name;
    } else {
      samples.push_back(line.substr(0, line.find_first_of("{ ")));
    }
  }
  auto ends_with = [](const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  for (const auto& [name, type] : types) {
    EXPECT_TRUE(std::regex_match(name, name_re)) << name;  // prefix, no colons, lower snake case
    EXPECT_EQ(ends_with(name, "_total"), type == "counter") << name << " " << type;
    for (const char* reserved : {"_bucket", "_sum", "_count", "_created"})
      EXPECT_FALSE(ends_with(name, reserved)) << name;
    if (type == "histogram") EXPECT_TRUE(ends_with(name, "_seconds")) << name;
  }
  for (const std::string& sample : samples) {
    std::string family = sample;
    for (const char* suffix : {"_bucket", "_sum", "_count"})
      if (!types.count(family) && ends_with(sample, suffix))
        family = sample.substr(0, sample.size() - std::string(suffix).size());
    EXPECT_TRUE(types.count(family)) << "sample without a family: " << sample;
  }
  const std::map<std::string, std::string> want = {
      {"infera_time_to_first_token_seconds", "histogram"},
      {"infera_inter_token_latency_seconds", "histogram"},
      {"infera_request_duration_seconds", "histogram"},
      {"infera_queue_time_seconds", "histogram"},
      {"infera_kv_cache_usage_ratio", "gauge"},
      {"infera_kv_cache_capacity_tokens", "gauge"},
      {"infera_prefix_cache_query_tokens_total", "counter"},
      {"infera_prefix_cache_hit_tokens_total", "counter"},
      {"infera_preemptions_total", "counter"},
  };
  for (const auto& [name, type] : want) EXPECT_EQ(types[name], type) << name;
}

}  // namespace
}  // namespace infera::server
