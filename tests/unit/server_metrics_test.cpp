// The metrics registry's Prometheus text, checked byte for byte.
#include <gtest/gtest.h>

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
  EXPECT_EQ(r.render(),
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
            "# HELP infera_requests_running Requests holding a slot.\n"
            "# TYPE infera_requests_running gauge\n"
            "infera_requests_running 1\n"
            "# HELP infera_requests_waiting Requests queued for a slot.\n"
            "# TYPE infera_requests_waiting gauge\n"
            "infera_requests_waiting 0\n");
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
}

}  // namespace
}  // namespace infera::server
