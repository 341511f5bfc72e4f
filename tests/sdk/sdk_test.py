"""The official OpenAI and Anthropic Python SDKs against a running gateway.

Run by tests/sdk.rs, which starts the mock upstreams and gateways and passes:
  GATEWAYS     a JSON object: gateway name -> base URL (http://127.0.0.1:PORT). "default" serves
               the success checks; each failure check gets a gateway of its own, because a
               failure cools the account that met it (the next request would see that instead).
  GATEWAY_KEY  a client API key
The gateway serves model `mock-<scenario>` on both official channels; a path prefix
(`/openai`, `/anthropic`) pins the channel. The gateways "grok" and "warp" each front that
channel's mock (its `[[mock:<scenario>]]` markers pick the answer). Exits non-zero if any check
fails.
"""

import json
import os
import sys
import traceback

import anthropic
import openai

GATEWAYS = json.loads(os.environ["GATEWAYS"])
KEY = os.environ["GATEWAY_KEY"]
CHANNELS = ["openai", "anthropic"]
TOOLS_OPENAI = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                 "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
TOOLS_ANTHROPIC = [{"name": "get_weather", "description": "Weather for a city",
                    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
USER = [{"role": "user", "content": "What's the weather in Paris?"}]

checks = []


def check(fn):
    checks.append(fn)
    return fn


def oa(channel, key=KEY, gateway="default"):
    return openai.OpenAI(base_url=f"{GATEWAYS[gateway]}/{channel}/v1", api_key=key, max_retries=0, timeout=30)


def an(channel, key=KEY, gateway="default"):
    # The Anthropic SDK sends its key as `x-api-key`; ANTHROPIC_AUTH_TOKEN style is `auth_token`.
    return anthropic.Anthropic(base_url=f"{GATEWAYS[gateway]}/{channel}", api_key=key, max_retries=0, timeout=30)


def an_bearer(channel):
    return anthropic.Anthropic(base_url=f"{GATEWAYS['default']}/{channel}", auth_token=KEY, max_retries=0, timeout=30)


def expect(exc_type, fn, status=None):
    try:
        fn()
    except exc_type as e:
        if status is not None:
            assert e.status_code == status, f"expected HTTP {status}, got {e.status_code}: {e}"
        return e
    raise AssertionError(f"expected {exc_type.__name__}")


# --- OpenAI SDK -------------------------------------------------------------------------------

@check
def openai_text_non_stream_and_stream():
    for ch in CHANNELS:
        r = oa(ch).chat.completions.create(model="mock-text", messages=USER)
        assert r.choices[0].message.content == "Hello from the mock.", (ch, r)
        assert r.choices[0].finish_reason == "stop"
        assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0
        chunks = list(oa(ch).chat.completions.create(model="mock-text", messages=USER, stream=True,
                                                      stream_options={"include_usage": True}))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == "Hello from the mock.", (ch, text)
        assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0, chunks[-1]
        assert all(c.id == chunks[0].id for c in chunks)
        plain = list(oa(ch).chat.completions.create(model="mock-text", messages=USER, stream=True))
        assert all(c.choices for c in plain), "no usage chunk unless asked for"


@check
def openai_tool_calls_including_parallel():
    for ch in CHANNELS:
        r = oa(ch).chat.completions.create(model="mock-tool", messages=USER, tools=TOOLS_OPENAI)
        call = r.choices[0].message.tool_calls[0]
        assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}, (ch, r)
        assert r.choices[0].finish_reason == "tool_calls"
        with oa(ch).chat.completions.stream(model="mock-tools2", messages=USER, tools=TOOLS_OPENAI) as s:
            final = s.get_final_completion()
        calls = final.choices[0].message.tool_calls
        assert [json.loads(c.function.arguments)["city"] for c in calls] == ["Paris", "London"], (ch, calls)
        assert len({c.id for c in calls}) == 2
        assert final.choices[0].finish_reason == "tool_calls"


@check
def openai_tool_results_round_trip():
    for ch in CHANNELS:
        history = USER + [
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            {"role": "tool", "tool_call_id": "call_2", "content": "rain"},
            {"role": "user", "content": "thanks, summarise"},
        ]
        r = oa(ch).chat.completions.create(model="mock-echo", messages=history, tools=TOOLS_OPENAI)
        assert r.choices[0].message.content.strip() == "thanks, summarise", (ch, r)


@check
def openai_reasoning_content():
    for ch in CHANNELS:
        chunks = list(oa(ch).chat.completions.create(model="mock-thinking", messages=USER, stream=True))
        reasoning = "".join((c.choices[0].delta.model_extra or {}).get("reasoning_content") or "" for c in chunks if c.choices)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert reasoning and text, (ch, reasoning, text)


@check
def openai_errors_are_typed():
    expect(openai.AuthenticationError, lambda: oa("openai", key="sk-wrong").chat.completions.create(model="mock-text", messages=USER), 401)
    expect(openai.NotFoundError, lambda: oa("openai").chat.completions.create(model="nope", messages=USER), 404)
    big = [{"role": "user", "content": "x" * (2 * 1024 * 1024)}]
    expect(openai.APIStatusError, lambda: oa("openai").chat.completions.create(model="mock-text", messages=big), 413)
    for ch in CHANNELS:
        e = expect(openai.RateLimitError, lambda: oa(ch, gateway="oa-429").chat.completions.create(model="mock-error_429", messages=USER), 429)
        assert e.response.headers.get("retry-after") == "7"
        assert e.code == "rate_limited", e.code
        expect(openai.InternalServerError, lambda: oa(ch, gateway="oa-401").chat.completions.create(model="mock-error_401", messages=USER), 502)
        e = expect(openai.InternalServerError, lambda: oa(ch, gateway="oa-empty").chat.completions.create(model="mock-empty", messages=USER), 502)
        assert e.code == "empty_response"
        expect(openai.InternalServerError, lambda: oa(ch, gateway="oa-silence").chat.completions.create(model="mock-silence", messages=USER), 504)
        expect(openai.BadRequestError, lambda: oa(ch, gateway="oa-400").chat.completions.create(model="mock-error_400", messages=USER), 400)


@check
def openai_mid_stream_failure_raises():
    for ch in CHANNELS:
        seen = []

        def consume():
            for c in oa(ch, gateway="oa-cut").chat.completions.create(model="mock-cut", messages=USER, stream=True):
                if c.choices and c.choices[0].delta.content:
                    seen.append(c.choices[0].delta.content)
        expect(openai.APIError, consume)
        assert seen, "the partial answer arrived before the error"


@check
def openai_models():
    ids = [m.id for m in oa("openai").models.list()]
    assert "mock-text" in ids, ids
    assert oa("openai").models.retrieve("mock-text").owned_by == "openai"


# --- Anthropic SDK ----------------------------------------------------------------------------

@check
def anthropic_text_non_stream_and_stream():
    for ch in CHANNELS:
        for client in (an(ch), an_bearer(ch)):
            m = client.messages.create(model="mock-text", max_tokens=100, messages=USER)
            assert m.content[0].text == "Hello from the mock." and m.stop_reason == "end_turn", (ch, m)
        with an(ch).messages.stream(model="mock-text", max_tokens=100, messages=USER) as s:
            text = "".join(s.text_stream)
            final = s.get_final_message()
        assert text == "Hello from the mock." and final.usage.output_tokens > 0, (ch, text)


@check
def anthropic_tool_use_including_parallel():
    for ch in CHANNELS:
        m = an(ch).messages.create(model="mock-tool", max_tokens=100, messages=USER, tools=TOOLS_ANTHROPIC)
        uses = [b for b in m.content if b.type == "tool_use"]
        assert uses[0].name == "get_weather" and uses[0].input == {"city": "Paris"}, (ch, m)
        assert m.stop_reason == "tool_use"
        with an(ch).messages.stream(model="mock-tools2", max_tokens=100, messages=USER, tools=TOOLS_ANTHROPIC) as s:
            final = s.get_final_message()
        uses = [b for b in final.content if b.type == "tool_use"]
        assert [u.input["city"] for u in uses] == ["Paris", "London"], (ch, final)
        assert final.stop_reason == "tool_use"


@check
def anthropic_tool_loop_with_thinking_replay():
    for ch in CHANNELS:
        first = an(ch).messages.create(model="mock-thinking", max_tokens=2000, messages=USER,
                                       thinking={"type": "enabled", "budget_tokens": 1024})
        assert first.content[0].type == "thinking" and first.content[0].signature, (ch, first)
        history = USER + [
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content] +
                [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                                         {"type": "text", "text": "and now?"}]},
        ]
        m = an(ch).messages.create(model="mock-echo", max_tokens=100, messages=history, tools=TOOLS_ANTHROPIC)
        assert m.content[0].text.strip() == "and now?", (ch, m)


@check
def anthropic_errors_are_typed():
    expect(anthropic.AuthenticationError, lambda: an("anthropic", key="sk-wrong").messages.create(model="mock-text", max_tokens=5, messages=USER), 401)
    expect(anthropic.NotFoundError, lambda: an("anthropic").messages.create(model="nope", max_tokens=5, messages=USER), 404)
    big = [{"role": "user", "content": "x" * (2 * 1024 * 1024)}]
    expect(anthropic.APIStatusError, lambda: an("anthropic").messages.create(model="mock-text", max_tokens=5, messages=big), 413)
    for ch in CHANNELS:
        expect(anthropic.RateLimitError, lambda: an(ch, gateway="an-429").messages.create(model="mock-error_429", max_tokens=5, messages=USER), 429)
        expect(anthropic.InternalServerError, lambda: an(ch, gateway="an-500").messages.create(model="mock-error_500", max_tokens=5, messages=USER), 502)
        expect(anthropic.InternalServerError, lambda: an(ch, gateway="an-silence").messages.create(model="mock-silence", max_tokens=5, messages=USER), 504)
        expect(anthropic.BadRequestError, lambda: an(ch, gateway="an-400").messages.create(model="mock-error_400", max_tokens=5, messages=USER), 400)


@check
def anthropic_mid_stream_failure_raises():
    for ch in CHANNELS:
        def consume():
            with an(ch, gateway="an-inband").messages.stream(model="mock-inband_error", max_tokens=100, messages=USER) as s:
                for _ in s.text_stream:
                    pass
        expect(anthropic.APIStatusError, consume)


@check
def anthropic_count_tokens_and_models():
    n = an("anthropic").messages.count_tokens(model="mock-text", messages=USER, tools=TOOLS_ANTHROPIC)
    assert n.input_tokens > 0, n
    ids = [m.id for m in an("anthropic").models.list(limit=1000)]
    assert "mock-text" in ids, ids


# --- the web channels (gateways "grok" and "warp", in front of their mocks) ----------------------

def reasoning_and_text_openai(gateway, channel, model, marker):
    client = oa(channel, gateway=gateway)
    chunks = list(client.chat.completions.create(model=model, messages=[{"role": "user", "content": f"{marker} hi"}], stream=True))
    reasoning = "".join((c.choices[0].delta.model_extra or {}).get("reasoning_content") or "" for c in chunks if c.choices)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return reasoning, text, len([c for c in chunks if c.choices and c.choices[0].delta.content])


def reasoning_and_text_anthropic(gateway, channel, model, marker):
    with an(channel, gateway=gateway).messages.stream(model=model, max_tokens=200, messages=[{"role": "user", "content": f"{marker} hi"}]) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    thinking = "".join(b.thinking for b in final.content if b.type == "thinking")
    return thinking, text


@check
def grok_streams_reasoning_and_text_to_both_sdks():
    reasoning, text, chunks = reasoning_and_text_openai("grok", "grok", "grok-4.20-expert", "[[mock:reasoning]]")
    assert (reasoning, text) == ("Thinking about it...", "The answer is 42."), (reasoning, text)
    assert chunks == 3, chunks
    thinking, text = reasoning_and_text_anthropic("grok", "grok", "grok-4.20-expert", "[[mock:reasoning]]")
    assert (thinking, text) == ("Thinking about it...", "The answer is 42."), (thinking, text)


@check
def grok_images_through_the_openai_sdk():
    r = oa("grok", gateway="grok").images.generate(model="grok-imagine-image-lite", prompt="a fox", n=2, size="1024x1024")
    assert len(r.data) == 2 and all(d.url.startswith("/v1/files/image/") for d in r.data), r
    r = oa("grok", gateway="grok").images.generate(model="grok-imagine-image-lite", prompt="a fox", response_format="b64_json")
    assert len(r.data) == 1 and r.data[0].b64_json, r


@check
def warp_streams_reasoning_and_text_to_both_sdks():
    reasoning, text, _ = reasoning_and_text_openai("warp", "warp", "warp-auto", "[[mock:reasoning]]")
    assert reasoning and text, (reasoning, text)
    thinking, text = reasoning_and_text_anthropic("warp", "warp", "warp-auto", "[[mock:reasoning]]")
    assert thinking and text, (thinking, text)


failed = 0
for fn in checks:
    try:
        fn()
        print(f"ok   {fn.__name__}")
    except Exception:
        failed += 1
        print(f"FAIL {fn.__name__}")
        traceback.print_exc()
print(f"{len(checks) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
