#!/usr/bin/env python3
"""A corpus of malformed requests for `infera serve`, and the driver that sends it.

Every case is data: name, method, path, optional headers, the body as bytes (so invalid UTF-8 and
raw garbage are possible) or a raw byte string for the socket, the expected HTTP status and, for
400s, the expected `param` (and `code` where one is fixed). Each case states what the server
SHOULD answer (OpenAI's behaviour where it has one), not what it happens to answer today.

The driver checks every 4xx answer for OpenAI's error shape
({"error":{"message","type","param","code"}}, Content-Type application/json), GET /health after
every 20 cases and at the end, and that a valid small request still succeeds afterwards. It prints
a FAIL line per failing case and a summary, and exits 1 on any failure. Standard library only.

Usage (normally through tests/server/run_malformed.sh):
  malformed_corpus.py --port PORT [--max-body-mb 1] [--ctx-size 512]
  malformed_corpus.py --port PORT --api-key KEY      # the authentication phase only
"""
import argparse
import http.client
import json
import socket
import sys
import time

CHAT = "/v1/chat/completions"
COMP = "/v1/completions"
TOK = "/tokenize"
DETOK = "/detokenize"

ANY = object()   # expectation not checked
DROP = object()  # remove the field from the base body

N_VOCAB = 49152  # SmolLM2-135M
INT64_MAX = 2**63 - 1
DEEP = 100_000   # nesting depth of the deep-nesting cases

USER_HI = [{"role": "user", "content": "hi"}]


def case(name, path, body, status, param=ANY, code=ANY, method="POST", headers=None, raw=None,
         timeout=60):
    """One corpus entry. body: bytes (or None); raw: the whole request as bytes for a socket."""
    return {"name": name, "method": method, "path": path, "headers": headers or {}, "body": body,
            "raw": raw, "status": status, "param": param, "code": code, "timeout": timeout}


def j(obj):
    return json.dumps(obj).encode()


def with_fields(base, fields):
    out = dict(base)
    for k, v in fields.items():
        if v is DROP:
            out.pop(k, None)
        else:
            out[k] = v
    return out


def chat(**fields):
    """A chat body: one user message, max_tokens 1, then the given fields (DROP removes one)."""
    return j(with_fields({"messages": USER_HI, "max_tokens": 1}, fields))


def comp(**fields):
    return j(with_fields({"prompt": "hi", "max_tokens": 1}, fields))


def msgs(*messages, **fields):
    return chat(messages=list(messages), **fields)


def raw_post(path, head, body=b""):
    return (b"POST " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            + b"Content-Type: application/json\r\n" + head + b"\r\n" + body)


def chunked(body, size=65536):
    parts = [b"%x\r\n" % len(body[i:i + size]) + body[i:i + size] + b"\r\n"
             for i in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\n\r\n"


def build_corpus(max_body_mb, ctx_size):
    c = []
    limit = max_body_mb << 20

    # --- invalid JSON (400, param null) -------------------------------------------------------
    invalid_json = {
        "empty body": b"",
        "whitespace only": b"   \n\t ",
        "truncated object": b'{"messages": [{"role": "user", "content": "hi"}',
        "truncated string": b'{"messages": [{"role": "user", "content": "hi',
        "trailing garbage": chat() + b"xyz",
        "two objects": chat() + chat(),
        "trailing comma": b'{"messages": [{"role": "user", "content": "hi"},], "max_tokens": 1}',
        "NaN literal": b'{"messages": [{"role": "user", "content": "hi"}], "temperature": NaN}',
        "Infinity literal":
            b'{"messages": [{"role": "user", "content": "hi"}], "temperature": Infinity}',
        "line comment": b'// hello\n' + chat(),
        "block comment": b'{/* c */"messages": [{"role": "user", "content": "hi"}]}',
        "single quotes": b"{'messages': [{'role': 'user', 'content': 'hi'}]}",
        "unquoted key": b'{messages: [{"role": "user", "content": "hi"}]}',
        "raw 0xff byte in string": b'{"messages": [{"role": "user", "content": "a\xffb"}]}',
        "raw 0xc0 0x80 overlong": b'{"messages": [{"role": "user", "content": "\xc0\x80"}]}',
        "truncated utf-8 sequence": b'{"messages": [{"role": "user", "content": "\xe2\x82"}]}',
        "utf-16 body": chat().decode().encode("utf-16"),
        "lone high surrogate escape": b'{"messages": [{"role": "user", "content": "\\ud800"}]}',
        "lone low surrogate escape": b'{"messages": [{"role": "user", "content": "x\\udc00y"}]}',
        "bad escape": b'{"messages": [{"role": "user", "content": "\\q"}]}',
        "raw control char in string": b'{"messages": [{"role": "user", "content": "a\x01b"}]}',
        "raw newline in string": b'{"messages": [{"role": "user", "content": "a\nb"}]}',
        "number overflow 1e309": b'{"messages": [{"role": "user", "content": "hi"}], '
                                 b'"temperature": 1e309}',
        "leading zero number": b'{"messages": [{"role": "user", "content": "hi"}], '
                               b'"max_tokens": 01}',
        "hex number": b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0x10}',
        "binary garbage": bytes(range(256)),
        "nul bytes": b"\x00" * 64,
        "deep nesting 100k [ unterminated": b"[" * DEEP,
        "deep nesting 100k { unterminated": b'{"a":' * DEEP,
    }
    for name, body in invalid_json.items():
        c.append(case("chat: invalid json: " + name, CHAT, body, 400, param=None))
    for name in ("truncated object", "single quotes", "raw 0xff byte in string",
                 "lone high surrogate escape", "deep nesting 100k [ unterminated"):
        c.append(case("completions: invalid json: " + name, COMP, invalid_json[name], 400,
                      param=None))

    # --- valid JSON, not an object (400, param null) -------------------------------------------
    for name, body in {"array": b"[]", "string": b'"hi"', "number": b"42", "null": b"null",
                       "true": b"true", "array of object": b"[" + chat() + b"]",
                       "deep nesting 100k [] closed": b"[" * DEEP + b"]" * DEEP}.items():
        c.append(case("chat: top level " + name, CHAT, body, 400, param=None))
        if name in ("array", "null", "deep nesting 100k [] closed"):
            c.append(case("completions: top level " + name, COMP, body, 400, param=None))

    # --- messages ------------------------------------------------------------------------------
    c += [
        case("chat: messages missing", CHAT, chat(messages=DROP), 400, "messages"),
        case("chat: messages null", CHAT, chat(messages=None), 400, "messages"),
        case("chat: messages string", CHAT, chat(messages="hi"), 400, "messages"),
        case("chat: messages object", CHAT, chat(messages={"role": "user"}), 400, "messages"),
        case("chat: messages empty", CHAT, chat(messages=[]), 400, "messages"),
        case("chat: message is a string", CHAT, msgs("hi"), 400, "messages[0]"),
        case("chat: message is null", CHAT, msgs(None), 400, "messages[0]"),
        case("chat: second message is an array", CHAT, msgs(USER_HI[0], []), 400, "messages[1]"),
        case("chat: role missing", CHAT, msgs({"content": "hi"}), 400, "messages[0].role"),
        case("chat: role number", CHAT, msgs({"role": 1, "content": "hi"}), 400,
             "messages[0].role"),
        case("chat: role null", CHAT, msgs({"role": None, "content": "hi"}), 400,
             "messages[0].role"),
        case("chat: role unknown", CHAT, msgs({"role": "wizard", "content": "hi"}), 400,
             "messages[0].role"),
        case("chat: role empty", CHAT, msgs({"role": "", "content": "hi"}), 400,
             "messages[0].role"),
        case("chat: role upper case", CHAT, msgs({"role": "USER", "content": "hi"}), 400,
             "messages[0].role"),
        case("chat: role unknown in second message", CHAT,
             msgs(USER_HI[0], {"role": "robot", "content": "x"}), 400, "messages[1].role"),
        case("chat: content missing", CHAT, msgs({"role": "user"}), 400, "messages[0].content"),
        case("chat: content null for user", CHAT, msgs({"role": "user", "content": None}), 400,
             "messages[0].content"),
        case("chat: assistant content null without tool_calls", CHAT,
             msgs({"role": "assistant", "content": None}, USER_HI[0]), 400,
             "messages[0].content"),
        case("chat: content number", CHAT, msgs({"role": "user", "content": 5}), 400,
             "messages[0].content"),
        case("chat: content bool", CHAT, msgs({"role": "user", "content": True}), 400,
             "messages[0].content"),
        case("chat: content object", CHAT, msgs({"role": "user", "content": {"text": "hi"}}),
             400, "messages[0].content"),
        # OpenAI: "Invalid 'messages[0].content': empty array. Expected an array with minimum
        # length 1".
        case("chat: content empty array", CHAT, msgs({"role": "user", "content": []}), 400,
             "messages[0].content"),
        case("chat: content part string", CHAT, msgs({"role": "user", "content": ["hi"]}), 400,
             "messages[0].content[0]"),
        case("chat: content part null", CHAT, msgs({"role": "user", "content": [None]}), 400,
             "messages[0].content[0]"),
        case("chat: content part type missing", CHAT,
             msgs({"role": "user", "content": [{"text": "hi"}]}), 400,
             "messages[0].content[0].type"),
        case("chat: content part type number", CHAT,
             msgs({"role": "user", "content": [{"type": 1, "text": "hi"}]}), 400,
             "messages[0].content[0].type"),
        case("chat: content part image_url", CHAT,
             msgs({"role": "user", "content": [
                 {"type": "image_url", "image_url": {"url": "http://x/y.png"}}]}), 400,
             "messages[0].content[0].type"),
        case("chat: content part input_audio", CHAT,
             msgs({"role": "user", "content": [
                 {"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}]}), 400,
             "messages[0].content[0].type"),
        case("chat: content part file", CHAT,
             msgs({"role": "user", "content": [{"type": "file", "file": {}}]}), 400,
             "messages[0].content[0].type"),
        case("chat: second content part image_url", CHAT,
             msgs({"role": "user", "content": [{"type": "text", "text": "a"},
                                               {"type": "image_url", "image_url": {}}]}), 400,
             "messages[0].content[1].type"),
        case("chat: content part text missing", CHAT,
             msgs({"role": "user", "content": [{"type": "text"}]}), 400,
             "messages[0].content[0].text"),
        case("chat: content part text number", CHAT,
             msgs({"role": "user", "content": [{"type": "text", "text": 3}]}), 400,
             "messages[0].content[0].text"),
        case("chat: content part text null", CHAT,
             msgs({"role": "user", "content": [{"type": "text", "text": None}]}), 400,
             "messages[0].content[0].text"),
        case("chat: name number", CHAT, msgs({"role": "user", "content": "hi", "name": 5}), 400,
             "messages[0].name"),
        case("chat: tool message without tool_call_id", CHAT,
             msgs(USER_HI[0], {"role": "tool", "content": "42"}), 400,
             "messages[1].tool_call_id"),
        case("chat: tool_call_id number", CHAT,
             msgs(USER_HI[0], {"role": "tool", "content": "42", "tool_call_id": 7}), 400,
             "messages[1].tool_call_id"),
        case("chat: tool_calls string", CHAT,
             msgs({"role": "assistant", "content": None, "tool_calls": "x"}, USER_HI[0]), 400,
             "messages[0].tool_calls"),
        case("chat: tool_calls object", CHAT,
             msgs({"role": "assistant", "content": "a", "tool_calls": {"id": "x"}}, USER_HI[0]),
             400, "messages[0].tool_calls"),
    ]

    # --- wrong types, field by field, on both generation endpoints -----------------------------
    number_fields = ["temperature", "top_p", "min_p", "presence_penalty", "frequency_penalty",
                     "repetition_penalty"]
    integer_fields = ["max_tokens", "max_completion_tokens", "top_k", "seed", "n"]
    wrong = {
        "number": [("string", "0.5"), ("bool", True), ("array", [1]), ("object", {})],
        "integer": [("string", "4"), ("float", 1.5), ("bool", True), ("array", [4])],
        "bool": [("string", "true"), ("number", 1), ("array", [])],
        "string": [("number", 1), ("bool", True), ("array", ["a"]), ("object", {})],
    }
    for path, make in ((CHAT, chat), (COMP, comp)):
        ep = "chat" if path == CHAT else "completions"
        for f in number_fields:
            kinds = wrong["number"] if path == CHAT else wrong["number"][:2]
            for kind, v in kinds:
                c.append(case(f"{ep}: {f} {kind}", path, make(**{f: v}), 400, f))
        for f in integer_fields:
            kinds = wrong["integer"] if path == CHAT else wrong["integer"][:2]
            for kind, v in kinds:
                c.append(case(f"{ep}: {f} {kind}", path, make(**{f: v}), 400, f))
        for f in ("stream", "logprobs"):
            for kind, v in wrong["bool"]:
                if path == COMP and f == "logprobs" and kind == "number":
                    continue  # the legacy API's logprobs is an integer 0..5
                c.append(case(f"{ep}: {f} {kind}", path, make(**{f: v}), 400, f))
        for f in ("model", "user"):
            for kind, v in wrong["string"]:
                c.append(case(f"{ep}: {f} {kind}", path, make(**{f: v}), 400, f))
        for kind, v in (("number", 1), ("bool", True), ("object", {}), ("array of number", [1]),
                        ("array with null", ["a", None]), ("nested array", [["a"]])):
            c.append(case(f"{ep}: stop {kind}", path, make(stop=v), 400, "stop"))
        for kind, v in (("string", "x"), ("bool", True), ("array", [])):
            c.append(case(f"{ep}: stream_options {kind}", path,
                          make(stream=True, stream_options=v), 400, "stream_options"))
        c.append(case(f"{ep}: stream_options.include_usage string", path,
                      make(stream=True, stream_options={"include_usage": "yes"}), 400,
                      "stream_options.include_usage"))
        c.append(case(f"{ep}: stream_options without stream", path,
                      make(stream_options={"include_usage": True}), 400, "stream_options"))
    # top_logprobs is an integer in 0..20 that needs logprobs (OpenAI).
    for kind, v in (("string", "x"), ("float", 1.5), ("negative", -1), ("above 20", 21)):
        c.append(case(f"chat: top_logprobs {kind}", CHAT, chat(top_logprobs=v), 400,
                      "top_logprobs"))

    # --- out of range ------------------------------------------------------------------------
    for path, make in ((CHAT, chat), (COMP, comp)):
        ep = "chat" if path == CHAT else "completions"
        for f, v in (("max_tokens", 0), ("max_tokens", -1), ("max_tokens", -2**63),
                     ("max_completion_tokens", 0), ("max_completion_tokens", -5),
                     ("max_tokens", 2**63), ("max_tokens", 2**64 + 1), ("max_tokens", 10**30),
                     ("temperature", -1), ("temperature", 3), ("temperature", 2.0000001),
                     ("top_p", 2), ("top_p", -0.5), ("top_p", 0),
                     ("top_k", -1), ("top_k", 2**31), ("min_p", -0.1), ("min_p", 1.5),
                     ("presence_penalty", 2.5), ("presence_penalty", -3),
                     ("frequency_penalty", 2.5), ("frequency_penalty", -2.01),
                     ("repetition_penalty", 0), ("repetition_penalty", -1),
                     ("repetition_penalty", 11), ("n", 0), ("n", -1), ("n", 9), ("n", 10**6),
                     ("seed", 2**63), ("seed", 2**64), ("seed", 1e30)):
            if path == COMP and f in ("max_completion_tokens", "presence_penalty",
                                      "frequency_penalty", "min_p") :
                continue
            c.append(case(f"{ep}: {f} = {v}", path, make(**{f: v}), 400, f))
        c.append(case(f"{ep}: stop with 5 strings", path, make(stop=list("abcde")), 400, "stop"))
        c.append(case(f"{ep}: stop empty string", path, make(stop=""), 400, "stop"))
        c.append(case(f"{ep}: stop array with empty string", path, make(stop=["a", ""]), 400,
                      "stop"))
        if path == CHAT:
            c.append(case("chat: top_logprobs without logprobs", path,
                          make(top_logprobs=2), 400, "top_logprobs"))
        else:
            c.append(case("completions: logprobs true (an integer 0..5)", path,
                          make(logprobs=True), 400, "logprobs"))
            c.append(case("completions: logprobs 6", path, make(logprobs=6), 400, "logprobs"))
        c.append(case(f"{ep}: stream + out-of-range temperature answers JSON, not SSE", path,
                      make(stream=True, temperature=5), 400, "temperature"))

    # --- /v1/completions prompt --------------------------------------------------------------
    c += [
        case("completions: prompt missing", COMP, comp(prompt=DROP), 400, "prompt"),
        case("completions: prompt null", COMP, comp(prompt=None), 400, "prompt"),
        case("completions: prompt number", COMP, comp(prompt=5), 400, "prompt"),
        case("completions: prompt bool", COMP, comp(prompt=True), 400, "prompt"),
        case("completions: prompt object", COMP, comp(prompt={"text": "hi"}), 400, "prompt"),
        case("completions: prompt empty array", COMP, comp(prompt=[]), 400, "prompt"),
        case("completions: prompt two strings", COMP, comp(prompt=["a", "b"]), 400, "prompt"),
        case("completions: prompt string then id", COMP, comp(prompt=["a", 1]), 400, "prompt"),
        case("completions: prompt id then string", COMP, comp(prompt=[1, "a"]), 400, "prompt"),
        case("completions: prompt ids with float", COMP, comp(prompt=[1, 2.5]), 400, "prompt"),
        case("completions: prompt ids with bool", COMP, comp(prompt=[True]), 400, "prompt"),
        case("completions: prompt ids with null", COMP, comp(prompt=[1, None]), 400, "prompt"),
        case("completions: prompt id negative", COMP, comp(prompt=[1, -1]), 400, "prompt"),
        case("completions: prompt id = n_vocab", COMP, comp(prompt=[N_VOCAB]), 400, "prompt"),
        case("completions: prompt id 10^6", COMP, comp(prompt=[10**6]), 400, "prompt"),
        case("completions: prompt id 2^31", COMP, comp(prompt=[2**31]), 400, "prompt"),
        case("completions: prompt id 2^63", COMP, comp(prompt=[2**63]), 400, "prompt"),
        case("completions: prompt id 2^64-1", COMP, comp(prompt=[2**64 - 1]), 400, "prompt"),
        case("completions: prompt id -2^63", COMP, comp(prompt=[-2**63]), 400, "prompt"),
        case("completions: prompt array of id arrays", COMP, comp(prompt=[[1, 2], [3]]), 400,
             "prompt"),
        case("completions: prompt empty string", COMP, comp(prompt=""), 400, "prompt"),
        case("completions: echo true (unsupported)", COMP, comp(echo=True), 400, "echo"),
        case("completions: echo string", COMP, comp(echo="yes"), 400, "echo"),
        case("completions: best_of 3", COMP, comp(best_of=3), 400, "best_of"),
        case("completions: best_of string", COMP, comp(best_of="1"), 400, "best_of"),
        case("completions: suffix number", COMP, comp(suffix=3), 400, "suffix"),
        case("completions: suffix non-empty (unsupported)", COMP, comp(suffix="end"), 400,
             "suffix"),
    ]

    # --- prompt + max_tokens beyond the context (400, context_length_exceeded) ----------------
    long_text = "hello " * (ctx_size + 100)
    cle = "context_length_exceeded"
    c += [
        case("chat: prompt longer than the context", CHAT,
             msgs({"role": "user", "content": long_text}, max_tokens=DROP), 400, "messages", cle),
        case("completions: prompt longer than the context", COMP,
             comp(prompt=long_text, max_tokens=DROP), 400, "prompt", cle),
        case("completions: token prompt = context size", COMP,
             comp(prompt=[42] * ctx_size, max_tokens=DROP), 400, "prompt", cle),
        case("chat: max_tokens beyond the context", CHAT, chat(max_tokens=ctx_size * 4), 400,
             "max_tokens", cle),
        case("completions: max_tokens beyond the context", COMP,
             comp(max_tokens=ctx_size * 200), 400, "max_tokens", cle),
        case("completions: prompt + max_tokens one past the context", COMP,
             comp(prompt=[42] * (ctx_size - 10), max_tokens=11), 400, "max_tokens", cle),
        case("chat: max_completion_tokens beyond the context", CHAT,
             chat(max_tokens=DROP, max_completion_tokens=10**9), 400, ANY, cle),
    ]

    # --- /tokenize and /detokenize ---------------------------------------------------------
    c += [
        case("tokenize: empty body", TOK, b"", 400, None),
        case("tokenize: invalid json", TOK, b'{"content": ', 400, None),
        case("tokenize: top level array", TOK, b'["hi"]', 400, None),
        case("tokenize: content missing", TOK, j({}), 400, "content"),
        case("tokenize: content number", TOK, j({"content": 1}), 400, "content"),
        case("tokenize: content array", TOK, j({"content": ["hi"]}), 400, "content"),
        case("tokenize: add_special string", TOK, j({"content": "hi", "add_special": "yes"}),
             400, "add_special"),
        case("tokenize: parse_special number", TOK, j({"content": "hi", "parse_special": 1}),
             400, "parse_special"),
        case("tokenize: raw 0xff in content", TOK, b'{"content": "\xff"}', 400, None),
        case("detokenize: empty body", DETOK, b"", 400, None),
        case("detokenize: tokens missing", DETOK, j({}), 400, "tokens"),
        case("detokenize: tokens string", DETOK, j({"tokens": "1 2"}), 400, "tokens"),
        case("detokenize: tokens object", DETOK, j({"tokens": {"0": 1}}), 400, "tokens"),
        case("detokenize: token float", DETOK, j({"tokens": [1.5]}), 400, "tokens"),
        case("detokenize: token string", DETOK, j({"tokens": ["1"]}), 400, "tokens"),
        case("detokenize: token negative", DETOK, j({"tokens": [5, -1]}), 400, "tokens"),
        case("detokenize: token = n_vocab", DETOK, j({"tokens": [N_VOCAB]}), 400, "tokens"),
        case("detokenize: token 2^40", DETOK, j({"tokens": [2**40]}), 400, "tokens"),
        case("detokenize: token 2^64-1", DETOK, j({"tokens": [2**64 - 1]}), 400, "tokens"),
        case("detokenize: nested token arrays", DETOK, j({"tokens": [[1, 2]]}), 400, "tokens"),
    ]

    # --- routes and methods -----------------------------------------------------------------
    # OpenAI answers a known path with the wrong method with 404 "Invalid URL (GET /v1/...)";
    # 405 is as good.
    c += [
        case("route: unknown path", "/v1/embeddings", j({"input": "hi"}), 404),
        case("route: unknown v2 path", "/v2/chat/completions", chat(), 404),
        case("route: trailing slash", CHAT + "/", chat(), 404),
        case("route: path prefix only", "/v1/chat", chat(), 404),
        case("route: path with dot-dot", "/v1/../../etc/passwd", None, (400, 404), method="GET"),
        case("route: GET unknown", "/nope", None, 404, method="GET"),
        case("route: models by id", "/v1/models/does-not-exist", None, 404, method="GET"),
        case("method: GET chat completions", CHAT, None, (404, 405), method="GET"),
        case("method: PUT chat completions", CHAT, chat(), (404, 405), method="PUT"),
        case("method: DELETE completions", COMP, None, (404, 405), method="DELETE"),
        case("method: PATCH tokenize", TOK, j({"content": "hi"}), (404, 405), method="PATCH"),
        case("method: POST models", "/v1/models", j({}), (404, 405)),
        case("method: POST health", "/health", j({}), (404, 405)),
        case("method: GET tokenize", TOK, None, (404, 405), method="GET"),
        case("method: unknown verb", CHAT, chat(), (400, 405, 501), method="BREW"),
    ]

    # --- transport: sizes, lengths, encodings (raw socket) ------------------------------------
    big = b'{"prompt": "' + b"a " * (limit // 2 + 1000) + b'", "max_tokens": 1}'
    big_tok = b'{"content": "' + b"a " * (limit // 2 + 1000) + b'"}'
    c += [
        case("size: body over the limit (chat)", CHAT, b" " * 16 + chat() + b" " * limit, 413),
        case("size: body over the limit (completions)", COMP, big, 413),
        case("size: body over the limit (tokenize)", TOK, big_tok, 413),
        case("size: declared Content-Length over the limit", CHAT, None, 413,
             raw=raw_post(CHAT, b"Content-Length: %d\r\n" % (limit + 1), b" " * (limit + 1))),
        # Chunked bodies must be held to the same limit as bodies with a Content-Length.
        case("size: chunked body over the limit", TOK, None, 413,
             raw=raw_post(TOK, b"Transfer-Encoding: chunked\r\n", chunked(big_tok))),
        case("transport: Content-Length not a number", CHAT, None, 400,
             raw=raw_post(CHAT, b"Content-Length: abc\r\n", b"{}")),
        case("transport: Content-Length negative", CHAT, None, (400, 413),
             raw=raw_post(CHAT, b"Content-Length: -1\r\n", b"{}"), timeout=30),
        case("transport: Content-Length beyond uint64", CHAT, None, (400, 413),
             raw=raw_post(CHAT, b"Content-Length: 99999999999999999999999\r\n", b"{}"),
             timeout=30),
        case("transport: Content-Length shorter than body", CHAT, None, 400, None,
             raw=raw_post(CHAT, b"Content-Length: 5\r\n", chat())),
        case("transport: chunked with bad size", CHAT, None, 400,
             raw=raw_post(CHAT, b"Transfer-Encoding: chunked\r\n", b"zz\r\n{}\r\n0\r\n\r\n")),
        case("transport: chunked invalid JSON", CHAT, None, 400, None,
             raw=raw_post(CHAT, b"Transfer-Encoding: chunked\r\n", chunked(b'{"messages": ['))),
        case("transport: garbage request line", "/", None, 400, raw=b"GARBAGE\r\n\r\n"),
        case("transport: binary request line", "/", None, 400, raw=b"\xff\xfe\x00\x01\r\n\r\n"),
        case("transport: header line 20 KB", CHAT, None, (400, 431),
             raw=b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 20000
             + b"\r\nConnection: close\r\n\r\n"),
        case("transport: text/plain content type, invalid body", CHAT, b"hello", 400, None,
             headers={"Content-Type": "text/plain"}),
    ]

    # --- valid edge cases that must succeed (200) -------------------------------------------
    c += [
        case("valid: empty user content", CHAT, msgs({"role": "user", "content": ""}), 200),
        case("valid: text content parts", CHAT,
             msgs({"role": "user", "content": [{"type": "text", "text": "h"},
                                               {"type": "text", "text": "i"}]}), 200),
        case("valid: developer role", CHAT, msgs({"role": "developer", "content": "be brief"},
                                                 USER_HI[0]), 200),
        case("valid: null optional fields", CHAT,
             chat(temperature=None, top_p=None, stop=None, seed=None, n=None, user=None), 200),
        case("valid: stop empty array", CHAT, chat(stop=[]), 200),
        case("valid: seed -1 and temperature 0", CHAT, chat(seed=-1, temperature=0), 200),
        case("valid: seed -2^63", COMP, comp(seed=-2**63), 200),
        case("valid: boundary values", COMP,
             comp(temperature=2, top_p=1, top_k=0, min_p=0, n=1, repetition_penalty=10,
                  presence_penalty=-2, frequency_penalty=2), 200),
        case("valid: unknown fields ignored", CHAT, chat(foo={"bar": [1, 2]}), 200),
        case("valid: escaped non-BMP character", CHAT,
             b'{"messages": [{"role": "user", "content": "\\ud83d\\ude00"}], "max_tokens": 1}',
             200),
        case("valid: token prompt", COMP, comp(prompt=[1, 2, 3]), 200),
        case("valid: token prompt filling the context but one", COMP,
             comp(prompt=[42] * (ctx_size - 1), max_tokens=DROP), 200, timeout=120),
        case("valid: stream with usage", CHAT,
             chat(stream=True, stream_options={"include_usage": True}), 200),
        case("valid: tokenize", TOK, j({"content": "hi", "add_special": True}), 200),
        case("valid: detokenize empty", DETOK, j({"tokens": []}), 200),
    ]

    # --- last: cases that have crashed or hung the server (so earlier results stay readable) ---
    deep_array = b"[" * DEEP + b"]" * DEEP
    c += [
        # Nesting beyond 64 levels is refused while parsing, wherever it is.
        case("deep: 100k-deep array in an unknown field", CHAT,
             b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1, "x": '
             + deep_array + b"}", 400),
        case("deep: 100k-deep array as messages", CHAT, b'{"messages": ' + deep_array + b"}",
             400),
        # n_prompt + max_tokens must not overflow int64 and slip past the context check.
        case("overflow: max_tokens = INT64_MAX", COMP, comp(max_tokens=INT64_MAX), 400,
             "max_tokens", cle, timeout=15),
        case("overflow: max_completion_tokens = INT64_MAX - 1", CHAT,
             chat(max_tokens=DROP, max_completion_tokens=INT64_MAX - 1), 400, ANY, cle,
             timeout=15),
        # tool_calls must be an array of objects; a deep array must not blow the stack either.
        case("deep: 100k-deep array in tool_calls", CHAT,
             b'{"messages": [{"role": "assistant", "content": null, "tool_calls": '
             + deep_array + b'}, {"role": "user", "content": "hi"}], "max_tokens": 1}', 400),
    ]
    return c


def auth_corpus(key):
    ok = {"Authorization": "Bearer " + key}
    return [
        case("auth: no Authorization header", CHAT, chat(), 401, code="invalid_api_key"),
        case("auth: wrong key", CHAT, chat(), 401, code="invalid_api_key",
             headers={"Authorization": "Bearer wrong"}),
        case("auth: key prefix only", CHAT, chat(), 401,
             headers={"Authorization": "Bearer " + key[:-1]}),
        case("auth: key plus suffix", COMP, comp(), 401,
             headers={"Authorization": "Bearer " + key + "x"}),
        case("auth: Bearer without key", CHAT, chat(), 401, headers={"Authorization": "Bearer"}),
        case("auth: Basic scheme", CHAT, chat(), 401, headers={"Authorization": "Basic " + key}),
        case("auth: key without scheme", CHAT, chat(), 401, headers={"Authorization": key}),
        case("auth: models without key", "/v1/models", None, 401, method="GET"),
        case("auth: tokenize without key", TOK, j({"content": "hi"}), 401),
        case("auth: right key, invalid body", CHAT, b"{", 400, None, headers=ok),
        case("auth: right key, models", "/v1/models", None, 200, method="GET", headers=ok),
        case("auth: health needs no key", "/health", None, 200, method="GET"),
    ]


# --- the driver --------------------------------------------------------------------------------

class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body


def send(port, c):
    """Sends one case on a fresh connection; returns a Response or raises OSError/HTTPException."""
    if c["raw"] is not None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=c["timeout"])
        try:
            try:
                sock.sendall(c["raw"])
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may answer (413) and close before reading everything
            r = http.client.HTTPResponse(sock, method="POST")
            r.begin()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            sock.close()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=c["timeout"])
    try:
        headers = {"Connection": "close"}
        if c["body"] is not None:
            headers["Content-Type"] = "application/json"
        headers.update(c["headers"])
        try:
            conn.request(c["method"], c["path"], body=c["body"], headers=headers)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the answer (413) may already be there
        r = conn.getresponse()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


def check_error_shape(resp):
    """Problems with a 4xx answer's shape as OpenAI gives it; empty when fine."""
    problems = []
    ctype = resp.headers.get("content-type", "")
    if not ctype.startswith("application/json"):
        problems.append(f"Content-Type is {ctype!r}, not application/json")
    try:
        doc = json.loads(resp.body)
    except ValueError:
        return problems + [f"body is not JSON: {resp.body[:200]!r}"]
    err = doc.get("error") if isinstance(doc, dict) else None
    if not isinstance(err, dict):
        return problems + [f"no error object: {resp.body[:200]!r}"]
    if not isinstance(err.get("message"), str) or not err["message"]:
        problems.append("error.message is not a non-empty string")
    if not isinstance(err.get("type"), str):
        problems.append("error.type is not a string")
    for k in ("param", "code"):
        if k not in err or not (err[k] is None or isinstance(err[k], str)):
            problems.append(f"error.{k} is not a string or null")
    return problems


def check_success(c, resp):
    ctype = resp.headers.get("content-type", "")
    if ctype.startswith("text/event-stream"):
        text = resp.body.decode("utf-8", "replace")
        return [] if "data: [DONE]" in text and '"error"' not in text else [
            f"stream did not end with [DONE] cleanly: {text[-300:]!r}"]
    if not ctype.startswith("application/json"):
        return [f"Content-Type is {ctype!r}"]
    try:
        doc = json.loads(resp.body)
    except ValueError:
        return [f"body is not JSON: {resp.body[:200]!r}"]
    if c["path"] in (CHAT, COMP) and not (isinstance(doc, dict) and doc.get("choices")):
        return [f"no choices: {resp.body[:200]!r}"]
    return []


def run_case(port, c):
    """Returns (ok, detail)."""
    try:
        resp = send(port, c)
    except (OSError, http.client.HTTPException) as e:
        return False, f"no answer: {type(e).__name__}: {e}"
    want = c["status"] if isinstance(c["status"], tuple) else (c["status"],)
    problems = []
    if resp.status not in want:
        problems.append(f"status {resp.status}, want {'/'.join(map(str, want))}")
    if 400 <= resp.status < 500:
        problems += check_error_shape(resp)
        try:
            err = json.loads(resp.body)["error"]
        except (ValueError, KeyError, TypeError):
            err = None
        if isinstance(err, dict) and resp.status in want:
            if c["param"] is not ANY and err.get("param") != c["param"]:
                problems.append(f"param {err.get('param')!r}, want {c['param']!r}")
            if c["code"] is not ANY and err.get("code") != c["code"]:
                problems.append(f"code {err.get('code')!r}, want {c['code']!r}")
    elif resp.status >= 500:
        problems.append(f"server error body: {resp.body[:300]!r}")
    elif resp.status == 200:
        problems += check_success(c, resp)
    if problems and resp.status != 200:
        problems.append(f"body: {resp.body[:300]!r}")
    return not problems, "; ".join(problems)


def health(port):
    try:
        r = send(port, case("health", "/health", None, 200, method="GET", timeout=30))
        return r.status
    except (OSError, http.client.HTTPException):
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--max-body-mb", type=int, default=1, help="the server's --max-body-mb")
    ap.add_argument("--ctx-size", type=int, default=512, help="the server's --ctx-size")
    ap.add_argument("--api-key", help="run the authentication cases against this key instead")
    ap.add_argument("--only", help="run only the cases whose name contains this")
    ap.add_argument("--list", action="store_true", help="print the case names and exit")
    args = ap.parse_args()

    cases = auth_corpus(args.api_key) if args.api_key else build_corpus(args.max_body_mb,
                                                                        args.ctx_size)
    if args.only:
        cases = [c for c in cases if args.only in c["name"]]
    if args.list:
        for c in cases:
            print(c["name"])
        print(f"{len(cases)} cases")
        return 0

    failures, ran = [], 0
    t0 = time.time()
    for i, c in enumerate(cases, 1):
        ok, detail = run_case(args.port, c)
        ran += 1
        if not ok:
            failures.append(c["name"])
            print(f"FAIL [{i}] {c['name']}: {detail}", flush=True)
        if i % 20 == 0 or not ok:
            h = health(args.port)
            if h != 200:
                print(f"FAIL /health answered {h} after case [{i}] {c['name']}", flush=True)
                failures.append(f"/health after [{i}]")
                if h is None:
                    print("the server is gone; stopping", flush=True)
                    break
    else:
        h = health(args.port)
        if h != 200:
            failures.append("/health at the end")
            print(f"FAIL /health answered {h} at the end", flush=True)
        elif not args.api_key:
            final = case("final: a valid request still succeeds", CHAT,
                         chat(temperature=0, max_tokens=4), 200)
            ok, detail = run_case(args.port, final)
            ran += 1
            if not ok:
                failures.append(final["name"])
                print(f"FAIL {final['name']}: {detail}", flush=True)

    failed_cases = [f for f in failures if not f.startswith("/health")]
    print(f"malformed corpus: {ran - len(failed_cases)}/{ran} requests passed "
          f"({len(cases)} cases{'' if args.api_key else ' + a final valid request'}), "
          f"{len(failures)} failure(s), "
          f"{time.time() - t0:.1f} s", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
