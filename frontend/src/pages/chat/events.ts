// What the chat stream says, event by event (issue 6): meta (message ids and the context
// record), text deltas, usage and cost, done with the finish reason, or an error.

import type { SseEvent } from "../../api/sse";
import type { Citation } from "../../api/types";

export type ChatEvent =
  | { type: "meta"; userMessageId?: string; assistantMessageId?: string; conversationId?: string; context?: unknown; citations?: Citation[] }
  | { type: "delta"; text: string }
  | { type: "usage"; inputTokens?: number; outputTokens?: number; cost?: number; estimated?: boolean }
  | { type: "citations"; citations: Citation[] }
  | { type: "done"; finishReason?: string; messageId?: string }
  | { type: "error"; message: string }
  | { type: "ignored" };

type Json = Record<string, unknown>;

const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
const str = (v: unknown) => (typeof v === "string" ? v : undefined);

export function interpret(event: SseEvent): ChatEvent {
  if (event.data === "[DONE]") return { type: "done" };
  let data: Json = {};
  try {
    const parsed = JSON.parse(event.data) as unknown;
    if (parsed && typeof parsed === "object") data = parsed as Json;
    else if (typeof parsed === "string") data = { text: parsed };
  } catch {
    // Plain text data is a text delta.
    if (event.event === "delta" || event.event === "message") return { type: "delta", text: event.data };
  }
  const kind = event.event !== "message" ? event.event : (str(data.event) ?? str(data.type) ?? "message");
  switch (kind) {
    case "meta":
    case "start": {
      const ids = (data.message_ids ?? {}) as Json;
      const ctx = data.context as Json | undefined;
      return {
        type: "meta",
        userMessageId: str(data.user_message_id) ?? str(ids.user) ?? str((data.user_message as Json | undefined)?.id),
        assistantMessageId:
          str(data.assistant_message_id) ?? str(ids.assistant) ?? str(data.message_id) ?? str((data.assistant_message as Json | undefined)?.id),
        conversationId: str(data.conversation_id),
        context: data.context,
        citations: (data.citations ?? ctx?.citations) as Citation[] | undefined,
      };
    }
    case "delta":
    case "text":
    case "text_delta":
    case "token":
      return { type: "delta", text: str(data.text) ?? str(data.delta) ?? str(data.content) ?? "" };
    case "usage": {
      // {"usage":{"input","output",…},"cost":{"total_usd","estimated",…}}
      const u = (data.usage ?? {}) as Json;
      const c = (data.cost ?? {}) as Json;
      return {
        type: "usage",
        inputTokens: num(u.input) ?? num(u.input_tokens),
        outputTokens: num(u.output) ?? num(u.output_tokens),
        cost: num(c.total_usd) ?? num(data.cost),
        estimated: typeof c.estimated === "boolean" ? c.estimated : undefined,
      };
    }
    case "citations":
      return { type: "citations", citations: (data.citations ?? data.items ?? []) as Citation[] };
    case "done":
    case "finish":
    case "end":
      return {
        type: "done",
        finishReason: str(data.finish_reason) ?? str(data.reason),
        messageId: str((data.message as Json | undefined)?.id) ?? str(data.message_id),
      };
    case "error":
      return { type: "error", message: str(data.detail) ?? str(data.message) ?? str(data.title) ?? "The answer failed" };
    default: {
      // OpenAI-style chunks on the compatible endpoint.
      const choices = data.choices as Json[] | undefined;
      const content = choices?.[0] && str((choices[0].delta as Json | undefined)?.content);
      if (content !== undefined) return { type: "delta", text: content };
      return { type: "ignored" };
    }
  }
}
