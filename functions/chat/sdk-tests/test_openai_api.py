"""RaGenie's OpenAI-compatible API driven by the official `openai` Python SDK.

RAGENIE_URL, RAGENIE_API_KEY and RAGENIE_PROFILE point at a running RaGenie whose OpenAI
provider is the fake (which cites [1] when the prompt holds numbered sources).
"""
import os
import unittest

import openai

BASE = os.environ["RAGENIE_URL"]
KEY = os.environ["RAGENIE_API_KEY"]
PROFILE = os.environ["RAGENIE_PROFILE"]


class OpenAiSdkAgainstRagenie(unittest.TestCase):
    def client(self, **kw):
        return openai.OpenAI(base_url=f"{BASE}/v1", api_key=KEY, max_retries=0, timeout=60, **kw)

    def test_models_are_listed(self):
        ids = [m.id for m in self.client().models.list()]
        self.assertIn("gpt-4.1", ids)

    def test_a_completion_is_grounded_in_the_profile_chosen_by_header(self):
        client = self.client(default_headers={"X-RaGenie-Profile": PROFILE})
        done = client.chat.completions.create(
            model="gpt-4.1",
            messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "How hard should I tamp?"}],
        )
        text = done.choices[0].message.content
        self.assertIn("How hard should I tamp?", text)
        self.assertIn("[1]", text, "the answer cites the profile's document")
        self.assertEqual(done.choices[0].finish_reason, "stop")
        self.assertGreater(done.usage.prompt_tokens, 0)
        self.assertGreater(done.usage.completion_tokens, 0)

    def test_a_streamed_completion_with_the_profile_as_model_suffix(self):
        stream = self.client().chat.completions.create(
            model=f"gpt-4.1@{PROFILE}",
            messages=[{"role": "user", "content": "What pressure for tamping?"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        text, finish, usage = "", None, None
        for chunk in stream:
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
                finish = chunk.choices[0].finish_reason or finish
            if chunk.usage:
                usage = chunk.usage
        self.assertIn("[1]", text)
        self.assertEqual(finish, "stop")
        self.assertIsNotNone(usage)
        self.assertGreater(usage.completion_tokens, 0)

    def test_a_wrong_key_is_refused(self):
        bad = openai.OpenAI(base_url=f"{BASE}/v1", api_key="rg_not_a_key", max_retries=0)
        with self.assertRaises(openai.AuthenticationError):
            bad.models.list()


if __name__ == "__main__":
    unittest.main()
