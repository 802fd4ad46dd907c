#!/usr/bin/env python3
"""`infera serve` end to end with the official `openai` SDK and the real SmolLM2 model.

Starts the server on a free loopback port, waits for /health, and checks chat and text
completions (plain and streamed), stop strings, max_tokens, errors as the SDK's exception types,
API keys, concurrent streams, a client that disconnects mid-stream, and a clean SIGTERM.
Run through tests/server/run.sh BUILD_DIR.
"""
import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.request

import openai

MODEL = os.path.join(
    os.environ.get("INFERA_DATA_DIR", os.path.expanduser("~/.cache/infera")),
    "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
SYSTEM = "You are a helpful assistant."
QUESTION = "What is the capital of France?"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, infera, *extra):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [infera, "serve", "-m", MODEL, "--port", str(self.port), "-c", "1024", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("infera serve exited: " + self.proc.stderr.read())
            try:
                if self.get("/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("infera serve did not become healthy")

    def get(self, path):
        try:
            with urllib.request.urlopen(self.base + path, timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def post_raw(self, path, body, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request("POST", path, body=body,
                     headers={"Content-Type": "application/json", **(headers or {})})
        r = conn.getresponse()
        data = r.read().decode()
        conn.close()
        return r.status, data

    def client(self, key="none"):
        return openai.OpenAI(base_url=self.base + "/v1", api_key=key, max_retries=0, timeout=120)

    def metric(self, name):
        _, text = self.get("/metrics")
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        return 0.0

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


def chat_messages():
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]


def greedy_chat(client, **kw):
    return client.chat.completions.create(model="smollm2", messages=chat_messages(),
                                          temperature=0, max_tokens=48, **kw)


def stream_text(client, **kw):
    chunks = list(client.chat.completions.create(
        model="smollm2", messages=chat_messages(), temperature=0, max_tokens=48, stream=True,
        **kw))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return text, chunks


TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


@test
def chat_non_stream(s, ctx):
    r = greedy_chat(s.client())
    text = r.choices[0].message.content
    assert "Paris" in text, text
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].finish_reason in ("stop", "length"), r.choices[0].finish_reason
    assert r.usage.prompt_tokens > 10 and r.usage.completion_tokens > 0
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert r.object == "chat.completion" and r.id.startswith("chatcmpl-")
    ctx["greedy"] = text
    ctx["greedy_finish"] = r.choices[0].finish_reason
    ctx["greedy_usage"] = r.usage


@test
def chat_stream_matches(s, ctx):
    text, chunks = stream_text(s.client(), stream_options={"include_usage": True})
    assert text == ctx["greedy"], (text, ctx["greedy"])
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == ctx["greedy_finish"] and all(f is None for f in finishes[:-1])
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == ctx["greedy_usage"].completion_tokens
    # The raw stream ends with [DONE], every event is one "data: ..." line.
    status, body = s.post_raw("/v1/chat/completions", json.dumps({
        "messages": chat_messages(), "temperature": 0, "max_tokens": 8, "stream": True}))
    assert status == 200
    events = [e for e in body.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events), body
    assert events[-1] == "data: [DONE]", events[-1]


@test
def completions(s, ctx):
    c = s.client()
    r = c.completions.create(model="smollm2", prompt="The capital of France is", max_tokens=8,
                             temperature=0)
    assert r.object == "text_completion"
    assert r.choices[0].text, r
    assert r.usage.completion_tokens <= 8
    streamed = "".join(ch.choices[0].text for ch in c.completions.create(
        model="smollm2", prompt="The capital of France is", max_tokens=8, temperature=0,
        stream=True) if ch.choices)
    assert streamed == r.choices[0].text, (streamed, r.choices[0].text)


@test
def stop_strings(s, ctx):
    full = ctx["greedy"]
    words = full.split()
    stop = words[len(words) // 2]
    expected = full[:full.index(stop)]
    r = greedy_chat(s.client(), stop=[stop, "zzzz-not-there"])
    assert r.choices[0].message.content == expected, (r.choices[0].message.content, expected)
    assert r.choices[0].finish_reason == "stop"
    text, _ = stream_text(s.client(), stop=stop)
    assert text == expected, (text, expected)


@test
def max_tokens_length(s, ctx):
    r = greedy_chat(s.client(), max_completion_tokens=3)
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 3


@test
def bad_requests(s, ctx):
    c = s.client()
    for kw, param in [({"temperature": 5}, "temperature"), ({"n": 2}, "n"),
                      ({"top_p": 0}, "top_p"), ({"max_tokens": 100000}, "max_tokens")]:
        try:
            c.chat.completions.create(model="m", messages=chat_messages(), **kw)
            raise AssertionError(f"accepted {kw}")
        except openai.BadRequestError as e:
            assert e.status_code == 400
            assert e.body["param"] == param, e.body
    try:
        c.chat.completions.create(model="m", messages=[])
        raise AssertionError("accepted empty messages")
    except openai.BadRequestError as e:
        assert e.body["param"] == "messages"
    status, body = s.post_raw("/v1/chat/completions", "{not json")
    assert status == 400 and json.loads(body)["error"]["type"] == "invalid_request_error"
    assert s.get("/nowhere")[0] == 404


@test
def models_tokenize_metrics(s, ctx):
    models = s.client().models.list()
    assert len(models.data) == 1 and models.data[0].id
    status, body = s.post_raw("/tokenize", json.dumps({"content": "Hello world"}))
    tokens = json.loads(body)["tokens"]
    assert status == 200 and tokens
    status, body = s.post_raw("/detokenize", json.dumps({"tokens": tokens}))
    assert json.loads(body)["content"] == "Hello world", body
    _, text = s.get("/metrics")
    for name in ["infera_requests_total", "infera_prompt_tokens_total",
                 "infera_generated_tokens_total", "infera_requests_running",
                 "infera_requests_waiting"]:
        assert f"# TYPE {name} " in text, name
    assert s.metric('infera_requests_total{outcome="ok"}') >= 5


@test
def concurrent_streams(s, ctx):
    results = [None] * 4

    def worker(i):
        try:
            results[i] = stream_text(s.client())[0]
        except Exception as e:  # reported below
            results[i] = e

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        assert r == ctx["greedy"], (r, ctx["greedy"])


@test
def client_disconnect(s, ctx):
    before = s.metric('infera_requests_total{outcome="cancelled"}')
    sock = socket.create_connection(("127.0.0.1", s.port))
    body = json.dumps({"messages": chat_messages(), "max_tokens": 900, "temperature": 1,
                       "stream": True}).encode()
    sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Type: application/json\r\nContent-Length: " +
                 str(len(body)).encode() + b"\r\n\r\n" + body)
    got = b""
    while got.count(b"data: ") < 3:
        got += sock.recv(4096)
    sock.close()
    deadline = time.time() + 30
    while time.time() < deadline and (s.metric("infera_requests_running") != 0 or
                                      s.metric('infera_requests_total{outcome="cancelled"}')
                                      <= before):
        time.sleep(0.1)
    assert s.metric("infera_requests_running") == 0
    assert s.metric('infera_requests_total{outcome="cancelled"}') == before + 1
    assert s.get("/health")[0] == 200
    assert "Paris" in greedy_chat(s.client()).choices[0].message.content


def auth_and_limits(infera):
    s = Server(infera, "--api-key", "sekrit", "--max-body-mb", "1", "--parallel", "1")
    try:
        try:
            s.client("wrong").models.list()
            raise AssertionError("wrong key accepted")
        except openai.AuthenticationError as e:
            assert e.status_code == 401
            assert "sekrit" not in str(e.body)
        assert s.client("sekrit").models.list().data
        assert s.get("/health")[0] == 200 and s.get("/metrics")[0] == 200
        status, body = s.post_raw("/v1/completions", json.dumps({"prompt": "x" * (2 << 20)}),
                                  {"Authorization": "Bearer sekrit"})
        assert status == 413, (status, body)
        assert json.loads(body)["error"]["message"]
    finally:
        rc = s.stop()
    assert rc == 0, rc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--infera", required=True)
    args = ap.parse_args()
    if not os.path.exists(MODEL):
        print(f"SKIP: {MODEL} missing (tools/fetch_models.sh)")
        return 0
    passed, failed = 0, []
    s = Server(args.infera, "--parallel", "4")
    ctx = {}
    try:
        for fn in TESTS:
            t0 = time.time()
            try:
                fn(s, ctx)
                passed += 1
                print(f"PASS {fn.__name__} ({time.time() - t0:.1f} s)", flush=True)
            except Exception:
                failed.append(fn.__name__)
                print(f"FAIL {fn.__name__}\n{traceback.format_exc()}", flush=True)
    finally:
        rc = s.stop()
    if rc == 0:
        passed += 1
        print("PASS sigterm_exit_0")
    else:
        failed.append("sigterm_exit_0")
        print(f"FAIL sigterm_exit_0: exit code {rc}\n{s.proc.stderr.read()}")
    try:
        auth_and_limits(args.infera)
        passed += 1
        print("PASS auth_and_limits")
    except Exception:
        failed.append("auth_and_limits")
        print(f"FAIL auth_and_limits\n{traceback.format_exc()}")
    print(f"{passed} passed, {len(failed)} failed" + (f": {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
