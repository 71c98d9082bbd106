"""SDK fidelity: the official OpenAI, Anthropic and Google GenAI SDKs parse what the fake
providers send (text, usage, finish reasons, errors), streamed and not.

Run by scripts/test.d/30-provider-sdks.sh with FAKE_URLS set to the JSON line the fake
binary prints. The expected token counts follow the fakes' documented rule: a text counts
ceil(chars / 4) tokens; input is the sum over the instructions and every message.
"""

import json
import math
import os
import time
import unittest

import anthropic
import openai
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

URLS = json.loads(os.environ["FAKE_URLS"])
KEY = "test-key"
SYSTEM = "You are terse. Sources: [1] The Eiffel Tower is in Paris."
QUESTION = "Where is the Eiffel Tower?"


def tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


EXPECTED_INPUT = tokens(SYSTEM) + tokens(QUESTION)


def check_reply(case: unittest.TestCase, text: str) -> None:
    case.assertIn(QUESTION, text)
    case.assertIn("[1]", text, "the fake cites numbered sources")


class OpenAI(unittest.TestCase):
    def setUp(self):
        self.client = openai.OpenAI(base_url=URLS["openai"], api_key=KEY, max_retries=0, timeout=20)
        self.messages = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": QUESTION},
        ]

    def test_non_streamed_completion(self):
        r = self.client.chat.completions.create(model="gpt-4o-mini", messages=self.messages)
        text = r.choices[0].message.content
        check_reply(self, text)
        self.assertEqual(r.choices[0].finish_reason, "stop")
        self.assertEqual(r.choices[0].message.role, "assistant")
        self.assertEqual(r.usage.prompt_tokens, EXPECTED_INPUT)
        self.assertEqual(r.usage.completion_tokens, tokens(text))
        self.assertEqual(r.usage.total_tokens, EXPECTED_INPUT + tokens(text))
        self.assertEqual(r.model, "gpt-4o-mini")

    def test_streamed_completion_with_usage(self):
        stream = self.client.chat.completions.create(
            model="gpt-4o-mini", messages=self.messages, stream=True,
            stream_options={"include_usage": True},
        )
        parts, finish, usage, chunks = [], None, None, 0
        for chunk in stream:
            chunks += 1
            if chunk.choices:
                delta = chunk.choices[0].delta
                if delta.content:
                    parts.append(delta.content)
                finish = chunk.choices[0].finish_reason or finish
            if chunk.usage:
                usage = chunk.usage
        text = "".join(parts)
        check_reply(self, text)
        self.assertGreater(chunks, 5)
        self.assertEqual(finish, "stop")
        self.assertIsNotNone(usage, "usage arrives in the last chunk")
        self.assertEqual(usage.prompt_tokens, EXPECTED_INPUT)
        self.assertEqual(usage.completion_tokens, tokens(text))

    def test_length_finish_and_cached_tokens(self):
        r = self.client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hello [[fake:cache]]"}],
            max_completion_tokens=3,
        )
        self.assertEqual(r.choices[0].finish_reason, "length")
        self.assertEqual(r.usage.completion_tokens, 3)
        self.assertEqual(r.usage.prompt_tokens_details.cached_tokens, tokens("hello [[fake:cache]]") // 2)

    def test_errors_map_to_sdk_exceptions(self):
        with self.assertRaises(openai.RateLimitError) as e:
            self.client.chat.completions.create(model="m", messages=[{"role": "user", "content": "[[fake:429]]"}])
        self.assertEqual(e.exception.response.headers.get("retry-after"), "1")
        with self.assertRaises(openai.InternalServerError):
            self.client.chat.completions.create(model="m", messages=[{"role": "user", "content": "[[fake:500]]"}])
        bad = openai.OpenAI(base_url=URLS["openai"], api_key="invalid-key", max_retries=0)
        with self.assertRaises(openai.AuthenticationError):
            bad.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])

    def test_the_sdk_retries_a_transient_429_after_retry_after(self):
        client = openai.OpenAI(base_url=URLS["openai"], api_key=KEY, max_retries=2, timeout=20)
        started = time.monotonic()
        r = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "retry [[fake:429x1 retry_after=0.5]]"}])
        self.assertIn("retry", r.choices[0].message.content)
        self.assertGreaterEqual(time.monotonic() - started, 0.45)

    def test_an_error_mid_stream_raises(self):
        stream = self.client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "[[fake:error]]"}], stream=True)
        with self.assertRaises(openai.APIError):
            for _ in stream:
                pass

    def test_embeddings_float_and_base64(self):
        r = self.client.embeddings.create(model="text-embedding-3-small", input=["the cat", "a dog", "the cat"])
        vecs = [d.embedding for d in r.data]
        self.assertEqual([len(v) for v in vecs], [1536] * 3)
        self.assertEqual(vecs[0], vecs[2])
        self.assertAlmostEqual(sum(x * x for x in vecs[1]), 1.0, places=4)
        self.assertEqual(r.usage.prompt_tokens, tokens("the cat") * 2 + tokens("a dog"))
        r2 = self.client.embeddings.create(model="text-embedding-3-small", input="the cat", dimensions=8,
                                           encoding_format="float")
        self.assertEqual(len(r2.data[0].embedding), 8)

    def test_compatible_endpoint_needs_no_key(self):
        client = openai.OpenAI(base_url=URLS["openai_compatible"], api_key="unused", max_retries=0)
        r = client.chat.completions.create(model="llama3", messages=self.messages)
        check_reply(self, r.choices[0].message.content)


class Anthropic(unittest.TestCase):
    def setUp(self):
        self.client = anthropic.Anthropic(base_url=URLS["anthropic"], api_key=KEY, max_retries=0, timeout=20)

    def create(self, **kw):
        args = dict(model="claude-haiku-4-5", max_tokens=1024, system=SYSTEM,
                    messages=[{"role": "user", "content": QUESTION}])
        args.update(kw)
        return args

    def test_non_streamed_message(self):
        m = self.client.messages.create(**self.create())
        text = "".join(b.text for b in m.content if b.type == "text")
        check_reply(self, text)
        self.assertEqual(m.stop_reason, "end_turn")
        self.assertEqual(m.role, "assistant")
        self.assertEqual(m.usage.input_tokens, EXPECTED_INPUT)
        self.assertEqual(m.usage.output_tokens, tokens(text))

    def test_streamed_message(self):
        with self.client.messages.stream(**self.create()) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        check_reply(self, text)
        self.assertEqual(final.content[0].text, text)
        self.assertEqual(final.stop_reason, "end_turn")
        self.assertEqual(final.usage.input_tokens, EXPECTED_INPUT)
        self.assertEqual(final.usage.output_tokens, tokens(text))

    def test_raw_stream_events(self):
        events = list(self.client.messages.create(**self.create(), stream=True))
        kinds = [e.type for e in events]
        self.assertEqual(kinds[0], "message_start")
        self.assertEqual(kinds[-1], "message_stop")
        self.assertIn("content_block_delta", kinds)
        self.assertEqual(kinds[-2], "message_delta")

    def test_max_tokens_and_cache_usage(self):
        q = "hello [[fake:cache]]"
        m = self.client.messages.create(**self.create(system=anthropic.NOT_GIVEN, max_tokens=3,
                                                      messages=[{"role": "user", "content": q}]))
        self.assertEqual(m.stop_reason, "max_tokens")
        self.assertEqual(m.usage.output_tokens, 3)
        total = tokens(q)
        self.assertEqual(m.usage.cache_read_input_tokens, total // 2)
        self.assertEqual(m.usage.cache_creation_input_tokens, total // 4)
        self.assertEqual(m.usage.input_tokens, total - total // 2 - total // 4)

    def test_prompt_cache_write_then_read(self):
        system = f"Cached instructions {time.time_ns()}. " * 10
        blocks = [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}]
        first = self.client.messages.create(**self.create(system=blocks))
        second = self.client.messages.create(**self.create(system=blocks))
        self.assertEqual(first.usage.cache_creation_input_tokens, tokens(system))
        self.assertEqual(first.usage.cache_read_input_tokens, 0)
        self.assertEqual(second.usage.cache_read_input_tokens, tokens(system))
        self.assertEqual(second.usage.input_tokens, tokens(QUESTION))

    def test_errors_map_to_sdk_exceptions(self):
        with self.assertRaises(anthropic.RateLimitError):
            self.client.messages.create(**self.create(messages=[{"role": "user", "content": "[[fake:429]]"}]))
        with self.assertRaises(anthropic.InternalServerError):
            self.client.messages.create(**self.create(messages=[{"role": "user", "content": "[[fake:500]]"}]))
        with self.assertRaises(anthropic.BadRequestError):
            self.client.messages.create(**self.create(messages=[{"role": "assistant", "content": "first"}]))
        bad = anthropic.Anthropic(base_url=URLS["anthropic"], api_key="invalid-key", max_retries=0)
        with self.assertRaises(anthropic.AuthenticationError):
            bad.messages.create(**self.create())

    def test_an_error_event_mid_stream_raises(self):
        with self.assertRaises(anthropic.APIError):
            with self.client.messages.stream(**self.create(messages=[{"role": "user", "content": "[[fake:error]]"}])) as s:
                for _ in s.text_stream:
                    pass


class Gemini(unittest.TestCase):
    def setUp(self):
        self.client = genai.Client(
            api_key=KEY,
            http_options=types.HttpOptions(base_url=URLS["gemini"], api_version="v1beta", timeout=20_000),
        )
        self.config = types.GenerateContentConfig(system_instruction=SYSTEM)

    def test_non_streamed_generate_content(self):
        r = self.client.models.generate_content(model="gemini-2.5-flash", contents=QUESTION, config=self.config)
        check_reply(self, r.text)
        self.assertEqual(r.candidates[0].finish_reason, types.FinishReason.STOP)
        self.assertEqual(r.usage_metadata.prompt_token_count, EXPECTED_INPUT)
        self.assertEqual(r.usage_metadata.candidates_token_count, tokens(r.text))
        self.assertEqual(r.model_version, "gemini-2.5-flash")

    def test_streamed_generate_content(self):
        parts, last, n = [], None, 0
        for chunk in self.client.models.generate_content_stream(
                model="gemini-2.5-flash", contents=QUESTION, config=self.config):
            n += 1
            if chunk.text:
                parts.append(chunk.text)
            last = chunk
        text = "".join(parts)
        check_reply(self, text)
        self.assertGreater(n, 5)
        self.assertEqual(last.candidates[0].finish_reason, types.FinishReason.STOP)
        self.assertEqual(last.usage_metadata.prompt_token_count, EXPECTED_INPUT)
        self.assertEqual(last.usage_metadata.candidates_token_count, tokens(text))

    def test_max_tokens_and_cached_tokens(self):
        q = "hello [[fake:cache]]"
        r = self.client.models.generate_content(
            model="gemini-2.5-flash", contents=q, config=types.GenerateContentConfig(max_output_tokens=3))
        self.assertEqual(r.candidates[0].finish_reason, types.FinishReason.MAX_TOKENS)
        self.assertEqual(r.usage_metadata.candidates_token_count, 3)
        self.assertEqual(r.usage_metadata.cached_content_token_count, tokens(q) // 2)

    def test_errors_map_to_sdk_exceptions(self):
        with self.assertRaises(genai_errors.ClientError) as e:
            self.client.models.generate_content(model="gemini-2.5-flash", contents="[[fake:429 retry_after=0]]")
        self.assertEqual(e.exception.code, 429)
        self.assertEqual(e.exception.status, "RESOURCE_EXHAUSTED")
        with self.assertRaises(genai_errors.ServerError) as e:
            self.client.models.generate_content(model="gemini-2.5-flash", contents="[[fake:500]]")
        self.assertEqual(e.exception.code, 500)

    def test_embeddings(self):
        r = self.client.models.embed_content(
            model="gemini-embedding-001", contents=["the cat", "a dog", "the cat"],
            config=types.EmbedContentConfig(output_dimensionality=16))
        vecs = [e.values for e in r.embeddings]
        self.assertEqual([len(v) for v in vecs], [16] * 3)
        self.assertEqual(vecs[0], vecs[2])
        self.assertNotEqual(vecs[0], vecs[1])


if __name__ == "__main__":
    unittest.main()
