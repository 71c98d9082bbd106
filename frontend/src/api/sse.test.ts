import { describe, expect, it } from "vitest";
import { readSse, SseParser, type SseEvent } from "./sse";

function parseInChunks(text: string, cuts: number[]): SseEvent[] {
  const parser = new SseParser();
  const events: SseEvent[] = [];
  let last = 0;
  for (const cut of [...cuts, text.length]) {
    events.push(...parser.push(text.slice(last, cut)));
    last = cut;
  }
  return events;
}

const STREAM =
  'event: meta\ndata: {"user_message_id":"u1"}\n\n' +
  ": keep-alive\n\n" +
  'event: delta\r\ndata: {"text":"Hel"}\r\n\r\n' +
  'event: delta\rdata: {"text":"lo [1]"}\r\r' +
  "data: line one\ndata: line two\n\n" +
  'event: done\ndata: {"finish_reason":"stop"}\n\n';

const EXPECTED: SseEvent[] = [
  { event: "meta", data: '{"user_message_id":"u1"}' },
  { event: "delta", data: '{"text":"Hel"}' },
  { event: "delta", data: '{"text":"lo [1]"}' },
  { event: "message", data: "line one\nline two" },
  { event: "done", data: '{"finish_reason":"stop"}' },
];

describe("SseParser", () => {
  it("parses a whole stream with LF, CRLF and CR line ends, comments and multi-line data", () => {
    expect(parseInChunks(STREAM, [])).toEqual(EXPECTED);
  });

  it("gives the same events wherever the stream is cut into two chunks", () => {
    for (let cut = 0; cut <= STREAM.length; cut++) {
      expect(parseInChunks(STREAM, [cut]), `cut at ${cut}`).toEqual(EXPECTED);
    }
  });

  it("gives the same events when fed one character at a time", () => {
    const cuts = Array.from({ length: STREAM.length }, (_, i) => i);
    expect(parseInChunks(STREAM, cuts)).toEqual(EXPECTED);
  });

  it("does not emit an event until its blank line arrives, and drops an unterminated one at the end", () => {
    const parser = new SseParser();
    expect(parser.push("data: partial")).toEqual([]);
    expect(parser.push("\n")).toEqual([]);
    expect(parser.end()).toEqual([]);
  });

  it("keeps the last id and strips exactly one space after the colon", () => {
    const events = parseInChunks("id: 7\ndata:  two spaces\n\n", []);
    expect(events).toEqual([{ event: "message", data: " two spaces", id: "7" }]);
  });

  it("ignores events without data and unknown fields", () => {
    expect(parseInChunks("event: ping\n\nfoo: bar\ndata: x\n\n", [])).toEqual([{ event: "message", data: "x" }]);
  });
});

describe("readSse", () => {
  it("decodes UTF-8 characters split across byte chunks", async () => {
    const bytes = new TextEncoder().encode('event: delta\ndata: {"text":"héllo — 世界 🎉"}\n\n');
    // Cut inside multi-byte sequences: every 3 bytes.
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i += 3) chunks.push(bytes.slice(i, i + 3));
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const c of chunks) controller.enqueue(c);
        controller.close();
      },
    });
    const events: SseEvent[] = [];
    for await (const e of readSse(body)) events.push(e);
    expect(events).toEqual([{ event: "delta", data: '{"text":"héllo — 世界 🎉"}' }]);
  });
});
