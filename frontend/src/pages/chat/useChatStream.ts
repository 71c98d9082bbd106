// The answer being streamed: its state as the events arrive, the request that streams it, and
// stop (closing the stream, and the explicit stop call that ends it on Lambda).

import { useCallback, useRef, useState } from "react";
import { api } from "../../api/client";
import { conversations } from "../../api/endpoints";
import { errorMessage, isAbort } from "../../api/problem";
import { limitOf, type Limit } from "../../lib/limits";
import { interpret, type ChatEvent } from "./events";

export interface Pending {
  /** From the stream's meta event: the id the server gave the answer. */
  assistantMessageId?: string;
  /** Where the new branch hangs: the parent of the new user message, or for a regenerate the user message. */
  parentId: string | null;
  userText?: string;
  /** What the question just sent attaches, shown as chips until the stored message replaces it. */
  userAttachments?: { id: string; name: string }[];
  regenerate: boolean;
  text: string;
  inputTokens?: number;
  outputTokens?: number;
  cost?: number;
  estimated?: boolean;
  finishReason?: string;
  error?: string;
  /** The send was refused by a quota or rate limit (shown with when to try again). */
  limit?: Limit;
  done: boolean;
}

/** The pending answer after one stream event. */
export function applyEvent(p: Pending, ev: ChatEvent): Pending {
  switch (ev.type) {
    case "meta":
      return { ...p, assistantMessageId: ev.assistantMessageId };
    case "delta":
      return { ...p, text: p.text + ev.text };
    case "usage":
      return { ...p, inputTokens: ev.inputTokens, outputTokens: ev.outputTokens, cost: ev.cost, estimated: ev.estimated };
    case "done":
      return { ...p, finishReason: ev.finishReason ?? p.finishReason };
    case "error":
      return { ...p, error: ev.message, finishReason: "error" };
    default:
      return p;
  }
}

export interface StreamOutcome {
  /** The answer's id, when the server announced it. */
  assistantId?: string;
  /** A failure other than the user's stop (already shown on the pending answer). */
  error?: unknown;
}

export function useChatStream() {
  const [pending, setPending] = useState<Pending | null>(null);
  const abortRef = useRef<AbortController | null>(null);
  /** The conversation whose answer is streaming (for stop, and to keep it across navigation). */
  const conversationRef = useRef<string | null>(null);

  const begin = useCallback((p: Pick<Pending, "parentId" | "userText" | "userAttachments" | "regenerate">) => {
    setPending({ ...p, text: "", done: false });
  }, []);

  /** Marks the pending answer failed (e.g. the conversation could not be created). */
  const fail = useCallback((e: unknown) => {
    if (isAbort(e)) setPending((p) => (p ? { ...p, done: true, finishReason: "stopped" } : p));
    else {
      const limit = limitOf(e) ?? undefined;
      setPending((p) => (p ? { ...p, done: true, error: errorMessage(e), limit, finishReason: limit ? "not sent" : "error" } : p));
    }
  }, []);

  /** Streams `path` into the pending answer until it ends, fails or is stopped. */
  const stream = useCallback(
    async (conversationId: string, path: string, body: unknown): Promise<StreamOutcome> => {
      conversationRef.current = conversationId;
      const controller = new AbortController();
      abortRef.current = controller;
      let assistantId: string | undefined;
      try {
        await api.stream(
          path,
          body,
          (raw) => {
            const ev = interpret(raw);
            if (ev.type === "meta") assistantId = ev.assistantMessageId ?? assistantId;
            setPending((p) => (p ? applyEvent(p, ev) : p));
          },
          controller.signal,
        );
        setPending((p) => (p ? { ...p, done: true } : p));
        return { assistantId };
      } catch (e) {
        fail(e);
        return { assistantId, error: isAbort(e) ? undefined : e };
      } finally {
        abortRef.current = null;
      }
    },
    [fail],
  );

  const stop = useCallback(() => {
    abortRef.current?.abort();
    const id = conversationRef.current;
    // On Lambda closing the stream is not enough: the explicit stop sets the flag the loop checks.
    if (id) conversations.stop(id).catch(() => undefined);
  }, []);

  return { pending, setPending, streaming: pending !== null && !pending.done, conversationRef, begin, fail, stream, stop };
}
