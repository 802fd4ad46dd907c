#!/usr/bin/env bash
# A real Prometheus server scrapes `infera serve` on the real default model: promtool must accept
# the /metrics text, and Prometheus must ingest infera's counters and histograms and answer
# queries over them (histogram_quantile included), the way a production dashboard would.
# Usage: tests/server/prometheus_scrape.sh BUILD_DIR   (BUILD_DIR holds the `infera` binary)
# Needs prometheus and promtool (Debian package `prometheus`, scripts/install_deps.sh), curl and
# python3. Runs its own Prometheus on a free loopback port with throwaway storage; the system
# service, if any, is never used. Model: $INFERA_DATA_DIR/models (default ~/.cache/infera/models).
set -euo pipefail
if [[ $# -ne 1 ]]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
infera="$(cd "$1" && pwd)/infera"
model="${INFERA_DATA_DIR:-$HOME/.cache/infera}/models/SmolLM2-135M-Instruct.Q4_1.gguf"

fail() {
  echo "prometheus_scrape: FAIL: $*" >&2
  exit 1
}
for tool in prometheus promtool; do
  command -v "$tool" >/dev/null || fail "$tool not found; run scripts/install_deps.sh"
done
for tool in curl python3; do
  command -v "$tool" >/dev/null || fail "$tool not found"
done
[[ -x "$infera" ]] || fail "$infera missing; build the infera target first"
[[ -f "$model" ]] || fail "model $model missing; run tools/fetch_models.sh smollm2"

tmp="$(mktemp -d)"
infera_pid=""
prom_pid=""
cleanup() {
  local rc=$?
  for pid in "$prom_pid" "$infera_pid"; do
    if [[ -n "$pid" ]]; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if ((rc != 0)); then
    for log in infera.log prometheus.log; do
      [[ -f "$tmp/$log" ]] && { echo "--- last lines of $log" >&2; tail -n 20 "$tmp/$log" >&2; }
    done
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# The kernel hands out a port nobody holds; the window until the server binds it is tiny.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port="$(free_port)"
prom_port="$(free_port)"
base="http://127.0.0.1:$port"
prom="http://127.0.0.1:$prom_port"

"$infera" serve -m "$model" --port "$port" -c 1024 >"$tmp/infera.log" 2>&1 &
infera_pid=$!
for ((i = 0; ; ++i)); do
  kill -0 "$infera_pid" 2>/dev/null || fail "infera serve exited"
  [[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/health" || true)" == 200 ]] && break
  ((i < 600)) || fail "infera serve not healthy after 120 s"
  sleep 0.2
done
echo "prometheus_scrape: infera serve healthy on port $port"

curl -sS -f -o "$tmp/completion.json" -H 'Content-Type: application/json' \
  -d '{"prompt": "The capital of France is", "max_tokens": 4, "temperature": 0}' \
  "$base/v1/completions" || fail "POST /v1/completions failed"
python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["choices"] and r["usage"]["completion_tokens"] >= 1, r
print("prometheus_scrape: completion:", json.dumps(r["choices"][0]["text"]))
' "$tmp/completion.json" || fail "unexpected completion response"

curl -sS -f -o "$tmp/metrics.txt" "$base/metrics" || fail "GET /metrics failed"
# promtool exits 1 when the text does not parse, 3 when it parses but breaks naming
# conventions: the first fails the test, the second is reported as warnings.
promtool_rc=0
promtool check metrics <"$tmp/metrics.txt" >"$tmp/promtool.out" 2>&1 || promtool_rc=$?
case $promtool_rc in
  0) echo "prometheus_scrape: promtool check metrics: OK" ;;
  3)
    echo "prometheus_scrape: promtool check metrics: warnings:"
    sed 's/^/  /' "$tmp/promtool.out"
    ;;
  *)
    cat "$tmp/promtool.out" >&2
    fail "promtool check metrics rejected /metrics (exit $promtool_rc)"
    ;;
esac

cat >"$tmp/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: infera
    static_configs:
      - targets: ['127.0.0.1:$port']
YAML
promtool check config "$tmp/prometheus.yml" >/dev/null || fail "promtool check config"
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" >"$tmp/prometheus.log" 2>&1 &
prom_pid=$!
echo "prometheus_scrape: prometheus $(prometheus --version 2>&1 | awk 'NR == 1 {print $3}') on port $prom_port"

# Each check: a PromQL query and a condition on its result vector. NaN is allowed where the
# engine may not have observed anything yet; the series must exist all the same.
check() {
  local query="$1" condition="$2"
  curl -sS -f -G --data-urlencode "query=$query" "$prom/api/v1/query" >"$tmp/answer.json" \
    2>/dev/null || return 1
  python3 - "$tmp/answer.json" "$query" "$condition" "$tmp/metrics.txt" <<'PY'
import json, math, re, sys
answer, query, condition, metrics = sys.argv[1:]
r = json.load(open(answer))
if r.get("status") != "success" or r["data"]["resultType"] != "vector" or not r["data"]["result"]:
    sys.exit(1)
values = [float(s["value"][1]) for s in r["data"]["result"]]
if condition == "any":
    ok = True
elif condition == "all-families":
    # Every sample name infera wrote must have become a series in Prometheus.
    exposed = {re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
               for line in open(metrics) if line.strip() and not line.startswith("#")}
    stored = {s["metric"]["__name__"] for s in r["data"]["result"]}
    ok = exposed <= stored
    values = [f"{len(stored)} names, missing {sorted(exposed - stored)}"]
else:
    op, want = condition.split()
    ok = all((v == float(want)) if op == "==" else (v >= float(want)) for v in values)
print(f"  {query} -> {values}")
sys.exit(0 if ok else 1)
PY
}
checks=(
  'up{job="infera"}|== 1'
  'infera_requests_total{outcome="ok"}|>= 1'
  'infera_generated_tokens_total|>= 1'
  'infera_prompt_tokens_total|>= 1'
  'infera_time_to_first_token_seconds_count|any'
  'infera_inter_token_latency_seconds_bucket{le="+Inf"}|any'
  'histogram_quantile(0.5, infera_request_duration_seconds_bucket)|any'
  'histogram_quantile(0.9, sum by (le) (rate(infera_queue_time_seconds_bucket[1m])))|any'
  'infera_kv_cache_capacity_tokens|any'
  'count by (__name__) ({__name__=~"infera_.+"})|all-families'
)
deadline=$((SECONDS + 60))
while :; do
  kill -0 "$prom_pid" 2>/dev/null || fail "prometheus exited"
  kill -0 "$infera_pid" 2>/dev/null || fail "infera serve exited"
  failed=()
  : >"$tmp/report.txt"
  for c in "${checks[@]}"; do
    check "${c%|*}" "${c##*|}" >>"$tmp/report.txt" 2>&1 || failed+=("${c%|*}  (want ${c##*|})")
  done
  ((${#failed[@]} == 0)) && break
  if ((SECONDS >= deadline)); then
    cat "$tmp/report.txt" >&2
    printf '  not satisfied: %s\n' "${failed[@]}" >&2
    fail "Prometheus did not return infera's series within 60 s"
  fi
  sleep 1
done
echo "prometheus_scrape: Prometheus query results:"
cat "$tmp/report.txt"
echo "prometheus_scrape: PASS (${#checks[@]} queries)"
