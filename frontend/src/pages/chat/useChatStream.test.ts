import { describe, expect, it } from "vitest";
import { applyEvent, type Pending } from "./useChatStream";

const start: Pending = { parentId: null, regenerate: false, text: "", done: false };

describe("applyEvent", () => {
  it("grows the text, takes the answer id, usage and finish reason as they arrive", () => {
    let p = applyEvent(start, { type: "meta", userMessageId: "u1", assistantMessageId: "a1", conversationId: "c1", context: { datasets_mode: "none", datasets_tokens: 0, documents: [], history_messages_dropped: 0, history_messages_sent: 0, history_tokens: 0, instructions_tokens: 0, prompt_tokens: 0 } });
    p = applyEvent(p, { type: "delta", text: "Twice " });
    p = applyEvent(p, { type: "delta", text: "a day." });
    p = applyEvent(p, { type: "usage", inputTokens: 10, outputTokens: 3, cost: 0.01, estimated: true });
    p = applyEvent(p, { type: "done", finishReason: "stop", messageId: "a1" });
    expect(p).toMatchObject({ assistantMessageId: "a1", text: "Twice a day.", inputTokens: 10, outputTokens: 3, estimated: true, finishReason: "stop" });
  });

  it("marks an error as the finish reason and ignores what it does not know", () => {
    const failed = applyEvent({ ...start, text: "Part" }, { type: "error", message: "upstream failed" });
    expect(failed).toMatchObject({ text: "Part", error: "upstream failed", finishReason: "error" });
    expect(applyEvent(failed, { type: "ignored" })).toBe(failed);
  });
});
