import { describe, expect, it } from "vitest";
import { interpret } from "./events";

const CONTEXT = {
  instructions_tokens: 1,
  datasets_tokens: 2,
  history_tokens: 0,
  prompt_tokens: 3,
  datasets_mode: "whole",
  documents: [],
  history_messages_dropped: 0,
  history_messages_sent: 0,
};

describe("chat stream events", () => {
  it("reads the five events the server sends", () => {
    const meta = {
      event: "meta",
      conversation_id: "c",
      user_message_id: "u",
      assistant_message_id: "a",
      parent_id: "",
      model: "m",
      context: CONTEXT,
    };
    expect(interpret({ event: "meta", data: JSON.stringify(meta) })).toEqual({
      type: "meta",
      userMessageId: "u",
      assistantMessageId: "a",
      conversationId: "c",
      context: CONTEXT,
    });
    expect(interpret({ event: "delta", data: '{"event":"delta","text":"Hi"}' })).toEqual({ type: "delta", text: "Hi" });
    expect(
      interpret({
        event: "usage",
        data: '{"event":"usage","usage":{"input":10,"output":5,"cache_read":0,"cache_write":0},"cost":{"total_usd":0.001,"input_usd":0.0008,"output_usd":0.0002,"estimated":false}}',
      }),
    ).toEqual({ type: "usage", inputTokens: 10, outputTokens: 5, cost: 0.001, estimated: false });
    expect(interpret({ event: "done", data: '{"event":"done","finish_reason":"stopped","message":{"id":"m2"},"conversation":{}}' })).toEqual({
      type: "done",
      finishReason: "stopped",
      messageId: "m2",
    });
    expect(interpret({ event: "error", data: '{"event":"error","message":"provider failed"}' })).toEqual({ type: "error", message: "provider failed" });
  });

  it("ignores names the server does not send, unnamed events and data that disagrees with its name", () => {
    for (const name of ["message", "text", "token", "start", "finish", "citations"]) {
      expect(interpret({ event: name, data: '{"event":"delta","text":"x"}' })).toEqual({ type: "ignored" });
    }
    expect(interpret({ event: "delta", data: '{"event":"error","message":"x"}' })).toEqual({ type: "ignored" });
    expect(interpret({ event: "delta", data: "plain text" })).toEqual({ type: "ignored" });
    expect(interpret({ event: "done", data: "[DONE]" })).toEqual({ type: "ignored" });
  });
});
