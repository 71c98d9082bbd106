import { describe, expect, it } from "vitest";
import { interpret } from "./events";

describe("chat stream events", () => {
  it("reads meta, delta, usage, done and error events", () => {
    expect(interpret({ event: "meta", data: '{"user_message_id":"u","assistant_message_id":"a","context":{}}' })).toMatchObject({
      type: "meta",
      userMessageId: "u",
      assistantMessageId: "a",
    });
    expect(interpret({ event: "delta", data: '{"text":"Hi"}' })).toEqual({ type: "delta", text: "Hi" });
    expect(interpret({ event: "usage", data: '{"input_tokens":10,"output_tokens":5,"cost":0.001}' })).toMatchObject({
      type: "usage",
      inputTokens: 10,
      outputTokens: 5,
      cost: 0.001,
    });
    expect(interpret({ event: "done", data: '{"finish_reason":"stop"}' })).toMatchObject({ type: "done", finishReason: "stop" });
    expect(interpret({ event: "error", data: '{"detail":"provider failed"}' })).toEqual({ type: "error", message: "provider failed" });
  });

  it("reads the type from the data when the event has no name, and OpenAI chunks", () => {
    expect(interpret({ event: "message", data: '{"type":"delta","delta":"x"}' })).toEqual({ type: "delta", text: "x" });
    expect(interpret({ event: "message", data: '{"choices":[{"delta":{"content":"y"}}]}' })).toEqual({ type: "delta", text: "y" });
    expect(interpret({ event: "message", data: "[DONE]" })).toEqual({ type: "done" });
  });
});
