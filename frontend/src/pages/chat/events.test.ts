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
    expect(
      interpret({ event: "usage", data: '{"event":"usage","usage":{"input":10,"output":5,"cache_read":0,"cache_write":0},"cost":{"total_usd":0.001,"estimated":false}}' }),
    ).toMatchObject({
      type: "usage",
      inputTokens: 10,
      outputTokens: 5,
      cost: 0.001,
    });
    expect(interpret({ event: "done", data: '{"event":"done","finish_reason":"stopped","message":{"id":"m2"}}' })).toEqual({
      type: "done",
      finishReason: "stopped",
      messageId: "m2",
    });
    expect(interpret({ event: "error", data: '{"event":"error","message":"provider failed"}' })).toEqual({ type: "error", message: "provider failed" });
  });

  it("reads the type from the data when the event has no name, and OpenAI chunks", () => {
    expect(interpret({ event: "message", data: '{"event":"delta","text":"x"}' })).toEqual({ type: "delta", text: "x" });
    expect(interpret({ event: "message", data: '{"choices":[{"delta":{"content":"y"}}]}' })).toEqual({ type: "delta", text: "y" });
    expect(interpret({ event: "message", data: "[DONE]" })).toEqual({ type: "done" });
  });
});
