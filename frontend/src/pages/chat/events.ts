// What the chat stream says, event by event (issue 6). The server sends exactly five named
// events, `meta` (message ids and the context record), `delta` (text), `usage` (tokens and
// cost), `done` (finish reason and the stored message) and `error`, each with its JSON (the
// generated `StreamEvent`) as data. Anything else is not from this server and is ignored.

import type { SseEvent } from "../../api/sse";
import type { ContextRecord, StreamEvent, StreamEventName } from "../../api/models";

export type ChatEvent =
  | { type: "meta"; userMessageId: string; assistantMessageId: string; conversationId: string; context: ContextRecord }
  | { type: "delta"; text: string }
  | { type: "usage"; inputTokens: number; outputTokens: number; cost: number; estimated: boolean }
  | { type: "done"; finishReason: string; messageId: string }
  | { type: "error"; message: string }
  | { type: "ignored" };

const NAMES: readonly string[] = ["meta", "delta", "usage", "done", "error"] satisfies StreamEventName[];

export function interpret(event: SseEvent): ChatEvent {
  if (!NAMES.includes(event.event)) return { type: "ignored" };
  let data: StreamEvent;
  try {
    data = JSON.parse(event.data) as StreamEvent;
  } catch {
    return { type: "ignored" };
  }
  // The data names its event too; a mismatch is not something this server sends.
  if (!data || typeof data !== "object" || data.event !== event.event) return { type: "ignored" };
  switch (data.event) {
    case "meta":
      return {
        type: "meta",
        userMessageId: data.user_message_id,
        assistantMessageId: data.assistant_message_id,
        conversationId: data.conversation_id,
        context: data.context,
      };
    case "delta":
      return { type: "delta", text: data.text };
    case "usage":
      return {
        type: "usage",
        inputTokens: data.usage.input,
        outputTokens: data.usage.output,
        cost: data.cost.total_usd,
        estimated: data.cost.estimated,
      };
    case "done":
      return { type: "done", finishReason: data.finish_reason, messageId: data.message.id };
    case "error":
      return { type: "error", message: data.message };
  }
}
