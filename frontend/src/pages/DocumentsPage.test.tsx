import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api } from "../api/client";
import type { DocumentMeta } from "../api/types";
import { installFetch, json } from "../test/fakeFetch";
import DocumentsPage from "./DocumentsPage";

/** An XMLHttpRequest that reports upload progress in two steps, then answers 201. */
class FakeXhr {
  static sent: { method: string; url: string; headers: Record<string, string>; body: Blob }[] = [];
  static onSend: (() => void) | null = null;
  upload: { onprogress: ((e: { loaded: number; total: number; lengthComputable: boolean }) => void) | null } = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  status = 0;
  responseText = "";
  private method = "";
  private url = "";
  private headers: Record<string, string> = {};
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(k: string, v: string) {
    this.headers[k] = v;
  }
  getResponseHeader(k: string) {
    return k.toLowerCase() === "content-type" ? "application/json" : null;
  }
  abort() {}
  send(body: Blob) {
    FakeXhr.sent.push({ method: this.method, url: this.url, headers: this.headers, body });
    const total = body.size;
    setTimeout(() => this.upload.onprogress?.({ loaded: Math.floor(total / 2), total, lengthComputable: true }), 1);
    setTimeout(() => {
      this.upload.onprogress?.({ loaded: total, total, lengthComputable: true });
      this.status = this.method === "PUT" ? 200 : 201;
      this.responseText = this.method === "PUT" ? "" : JSON.stringify({ id: "d9", name: "notes.md", kind: "dataset", status: "pending" });
      FakeXhr.onSend?.();
      this.onload?.();
    }, 5);
  }
}

const READY: DocumentMeta = { id: "d1", name: "handbook.md", kind: "dataset", status: "ready", size: 2048, token_count: 512, version: 2, media_type: "text/markdown" };
const FAILED: DocumentMeta = { id: "d2", name: "scan.pdf", kind: "dataset", status: "failed", failure_reason: "the PDF is encrypted", media_type: "application/pdf" };
const RULES: DocumentMeta = { id: "d3", name: "style.md", kind: "instructions", status: "ready", media_type: "text/markdown" };

beforeEach(() => {
  api.setTokens({ access_token: "a", refresh_token: "r" });
  FakeXhr.sent = [];
  vi.stubGlobal("XMLHttpRequest", FakeXhr);
});
afterEach(() => {
  vi.unstubAllGlobals();
  api.setTokens(null);
});

describe("DocumentsPage", () => {
  it("lists documents by kind with status and the reason of a failure, and previews extracted text", async () => {
    installFetch({
      "GET /documents": () => json(200, { items: [READY, FAILED, RULES] }),
      "GET /profiles": () => json(200, { items: [] }),
      "GET /documents/d1/content": () => new Response("# Handbook\nFeed twice a day.", { headers: { "Content-Type": "text/plain" } }),
    });
    render(<MemoryRouter><DocumentsPage /></MemoryRouter>);
    await screen.findByText("handbook.md");
    expect(screen.getByRole("heading", { name: "Instructions" })).toBeTruthy();
    const failedRow = screen.getByText("scan.pdf").closest("tr")!;
    expect(within(failedRow).getByText("failed")).toBeTruthy();
    expect(within(failedRow).getByText("the PDF is encrypted")).toBeTruthy();
    const row = screen.getByText("handbook.md").closest("tr")!;
    expect(row.textContent).toContain("2.0 KB");
    await userEvent.setup().click(within(row).getByRole("button", { name: "Preview handbook.md" }));
    expect((await screen.findByTestId("document-preview")).textContent).toBe("# Handbook\nFeed twice a day.");
  });

  it("uploads a chosen file with its kind and name, shows progress, then reloads the list", async () => {
    let listed = 0;
    const { calls } = installFetch({
      "GET /documents": () => {
        listed++;
        return json(200, { items: listed > 1 ? [READY] : [] });
      },
      "GET /profiles": () => json(200, { items: [] }),
    });
    render(<MemoryRouter><DocumentsPage /></MemoryRouter>);
    const user = userEvent.setup();
    await screen.findByText(/No documents here yet/);
    await user.selectOptions(screen.getByLabelText("Upload as"), "instructions");
    const file = new File(["# Notes\nhello"], "notes.md", { type: "text/markdown" });
    await user.upload(screen.getByLabelText("Files to upload"), file);
    const item = (await screen.findByText("uploaded")).closest("li")!;
    expect(within(item).getByRole("progressbar").getAttribute("value")).toBe(String(file.size));
    expect(FakeXhr.sent).toHaveLength(1);
    const sent = FakeXhr.sent[0];
    expect(sent.method).toBe("POST");
    expect(sent.url).toBe("/documents?kind=instructions&name=notes.md");
    expect(sent.headers["Content-Type"]).toBe("text/markdown");
    expect(sent.headers.Authorization).toBe("Bearer a");
    await screen.findByText("handbook.md");
    expect(calls.filter((c) => c.path === "/documents").length).toBeGreaterThanOrEqual(2);
  });

  it("sends a large file through a presigned upload, then commits it", async () => {
    const { calls } = installFetch({
      "GET /documents": () => json(200, { items: [] }),
      "GET /profiles": () => json(200, { items: [] }),
      "POST /documents/uploads": () =>
        json(201, {
          document_id: "d7",
          upload: { url: "/_blobs/put/abc?sig=1", method: "PUT", headers: [["content-type", "application/pdf"]], expires_at: 0 },
        }),
      "POST /documents/d7/commit": () => json(201, { id: "d7", name: "big.pdf", kind: "dataset", status: "ready", duplicate: false }),
    });
    render(<MemoryRouter><DocumentsPage /></MemoryRouter>);
    const user = userEvent.setup();
    await screen.findByText(/No documents here yet/);
    const big = new File([new Uint8Array(6 * 1024 * 1024)], "big.pdf", { type: "application/pdf" });
    await user.upload(screen.getByLabelText("Files to upload"), big);
    await screen.findByText("uploaded");
    expect(calls.find((c) => c.path === "/documents/uploads")!.body).toEqual({
      name: "big.pdf",
      kind: "dataset",
      media_type: "application/pdf",
      size: big.size,
    });
    expect(FakeXhr.sent).toHaveLength(1);
    expect(FakeXhr.sent[0].method).toBe("PUT");
    expect(FakeXhr.sent[0].url).toBe("http://localhost:3000/_blobs/put/abc?sig=1");
    expect(FakeXhr.sent[0].headers.Authorization).toBeUndefined();
    expect(FakeXhr.sent[0].headers).toEqual({ Accept: "application/json", "content-type": "application/pdf" });
    expect(calls.some((c) => c.method === "POST" && c.path === "/documents/d7/commit")).toBe(true);
  });
});
