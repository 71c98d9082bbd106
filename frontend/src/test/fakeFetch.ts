// A scripted fetch for component tests: routes "METHOD /path" to handlers, records calls.
import { vi } from "vitest";

export type Handler = (req: { url: URL; init: RequestInit; body: unknown }) => Response | Promise<Response>;

export function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": status >= 400 ? "application/problem+json" : "application/json" },
  });
}

export function problem(status: number, detail: string) {
  return json(status, { type: "urn:ragenie:problem:x", title: "Error", status, detail });
}

export function sse(chunks: string[], delayMs = 0) {
  const enc = new TextEncoder();
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(c) {
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      if (i < chunks.length) c.enqueue(enc.encode(chunks[i++]));
      else c.close();
    },
  });
  return new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } });
}

export function installFetch(routes: Record<string, Handler>) {
  const calls: { method: string; path: string; body: unknown }[] = [];
  const mock = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = new URL(String(input), "http://localhost");
    const method = (init.method ?? "GET").toUpperCase();
    const body = typeof init.body === "string" ? JSON.parse(init.body) : init.body;
    calls.push({ method, path: url.pathname, body });
    const handler = routes[`${method} ${url.pathname}`];
    if (!handler) return problem(404, "no such resource");
    return handler({ url, init, body });
  });
  vi.stubGlobal("fetch", mock);
  return { calls, mock };
}
