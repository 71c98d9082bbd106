import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { DocumentMeta } from "../api/models";
import { installFetch, json, problem } from "../test/fakeFetch";
import { signedInEachTest } from "../test/session";
import DocumentsPage from "./DocumentsPage";

/** An XMLHttpRequest that reports upload progress in two steps, then answers 201. */
class FakeXhr {
  static sent: { method: string; url: string; headers: Record<string, string>; body: Blob }[] = [];
  static onSend: (() => void) | null = null;
  /** The answer to give instead of the default 201 (or 200 for a PUT). */
  static reply: ((method: string, url: string) => { status: number; body: unknown }) | null = null;
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
    if (k.toLowerCase() !== "content-type") return null;
    return this.status >= 400 ? "application/problem+json" : "application/json";
  }
  abort() {}
  send(body: Blob) {
    FakeXhr.sent.push({ method: this.method, url: this.url, headers: this.headers, body });
    const total = body.size;
    setTimeout(() => this.upload.onprogress?.({ loaded: Math.floor(total / 2), total, lengthComputable: true }), 1);
    setTimeout(() => {
      this.upload.onprogress?.({ loaded: total, total, lengthComputable: true });
      const custom = FakeXhr.reply?.(this.method, this.url);
      if (custom) {
        this.status = custom.status;
        this.responseText = JSON.stringify(custom.body);
      } else {
        this.status = this.method === "PUT" ? 200 : 201;
        this.responseText = this.method === "PUT" ? "" : JSON.stringify({ id: "d9", name: "notes.md", kind: "dataset", status: "pending" });
      }
      FakeXhr.onSend?.();
      this.onload?.();
    }, 5);
  }
}

const READY = { id: "d1", name: "handbook.md", kind: "dataset", status: "ready", size: 2048, token_count: 512, version: 2, media_type: "text/markdown" } as DocumentMeta;
const FAILED = { id: "d2", name: "scan.pdf", kind: "dataset", status: "failed", failure_reason: "the PDF is encrypted", media_type: "application/pdf" } as DocumentMeta;
const RULES = { id: "d3", name: "style.md", kind: "instructions", status: "ready", media_type: "text/markdown" } as DocumentMeta;

signedInEachTest();
beforeEach(() => {
  FakeXhr.sent = [];
  FakeXhr.reply = null;
  vi.stubGlobal("XMLHttpRequest", FakeXhr);
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
          upload: {
            url: "/_blobs/put/abc?sig=1",
            method: "PUT",
            headers: [["content-type", "application/pdf"], ["content-length", String(6 * 1024 * 1024)]],
            expires_at: 0,
          },
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
      folder: "",
      kind: "dataset",
      media_type: "application/pdf",
      size: big.size,
    });
    expect(FakeXhr.sent).toHaveLength(1);
    expect(FakeXhr.sent[0].method).toBe("PUT");
    expect(FakeXhr.sent[0].url).toBe("http://localhost:3000/_blobs/put/abc?sig=1");
    expect(FakeXhr.sent[0].headers.Authorization).toBeUndefined();
    // The signed length is the body's: the browser sends it (a script setting it is refused).
    expect(FakeXhr.sent[0].headers).toEqual({ Accept: "application/json", "content-type": "application/pdf" });
    expect(FakeXhr.sent[0].body.size).toBe(6 * 1024 * 1024);
    expect(calls.some((c) => c.method === "POST" && c.path === "/documents/d7/commit")).toBe(true);
  });

  it("renames a document, and cancelling a rename sends nothing", async () => {
    let name = "handbook.md";
    const { calls } = installFetch({
      "GET /documents": () => json(200, { items: [{ ...READY, name }] }),
      "GET /profiles": () => json(200, { items: [] }),
      "PATCH /documents/d1": ({ body }) => {
        name = (body as { name: string }).name;
        return json(200, { ...READY, name });
      },
    });
    render(<MemoryRouter><DocumentsPage /></MemoryRouter>);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Rename handbook.md" }));
    await user.click(screen.getByRole("button", { name: "Cancel" }));
    expect(calls.some((c) => c.method === "PATCH")).toBe(false);
    await user.click(screen.getByRole("button", { name: "Rename handbook.md" }));
    const input = screen.getByLabelText("New name for handbook.md");
    await user.clear(input);
    await user.type(input, "  Care guide.md  ");
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(await screen.findByText("Care guide.md")).toBeTruthy();
    expect(calls.find((c) => c.method === "PATCH")!.body).toEqual({ name: "Care guide.md" });
  });

  it("deletes a document only once the user confirms", async () => {
    let items = [READY, RULES];
    const { calls } = installFetch({
      "GET /documents": () => json(200, { items }),
      "GET /profiles": () => json(200, { items: [] }),
      "DELETE /documents/d1": () => {
        items = [RULES];
        return new Response(null, { status: 204 });
      },
    });
    const confirm = vi.fn(() => false);
    vi.stubGlobal("confirm", confirm);
    render(<MemoryRouter><DocumentsPage /></MemoryRouter>);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Delete handbook.md" }));
    expect(confirm).toHaveBeenCalledWith(expect.stringContaining("handbook.md"));
    expect(calls.some((c) => c.method === "DELETE")).toBe(false);
    confirm.mockReturnValue(true);
    await user.click(screen.getByRole("button", { name: "Delete handbook.md" }));
    await waitFor(() => expect(screen.queryByText("handbook.md")).toBeNull());
    expect(calls.filter((c) => c.method === "DELETE").map((c) => c.path)).toEqual(["/documents/d1"]);
    expect(screen.getByText("style.md")).toBeTruthy();
  });

  it("shows why an action failed, in words, and keeps the list", async () => {
    installFetch({
      "GET /documents": () => json(200, { items: [READY] }),
      "GET /profiles": () => json(200, { items: [] }),
      "DELETE /documents/d1": () => problem(409, "the document is used by the profile Work"),
    });
    vi.stubGlobal("confirm", () => true);
    render(<MemoryRouter><DocumentsPage /></MemoryRouter>);
    await userEvent.setup().click(await screen.findByRole("button", { name: "Delete handbook.md" }));
    expect((await screen.findByRole("alert")).textContent).toBe("The document is used by the profile Work (HTTP 409)");
    expect(screen.getByText("handbook.md")).toBeTruthy();
  });

  it("replaces a document's content with a PUT of the new file's type", async () => {
    installFetch({
      "GET /documents": () => json(200, { items: [READY] }),
      "GET /profiles": () => json(200, { items: [] }),
    });
    FakeXhr.reply = () => ({ status: 200, body: { ...READY, version: 3 } });
    render(<MemoryRouter><DocumentsPage /></MemoryRouter>);
    const file = new File(["new text"], "handbook.txt", { type: "" });
    await userEvent.setup().upload(await screen.findByLabelText("New version of handbook.md"), file);
    await waitFor(() => expect(FakeXhr.sent).toHaveLength(1));
    expect(FakeXhr.sent[0].method).toBe("PUT");
    expect(FakeXhr.sent[0].url).toBe("/documents/d1/content");
    expect(FakeXhr.sent[0].headers["Content-Type"]).toBe("text/plain");
  });

  it("uploads dropped files and says when one was already stored and why another failed", async () => {
    installFetch({
      "GET /documents": () => json(200, { items: [] }),
      "GET /profiles": () => json(200, { items: [] }),
    });
    FakeXhr.reply = (_method, url) =>
      url.includes("name=same.md")
        ? { status: 200, body: { id: "d1", name: "handbook.md", kind: "dataset", status: "ready", duplicate: true } }
        : { status: 415, body: { type: "about:blank", title: "Unsupported Media Type", status: 415, detail: "images cannot be indexed" } };
    render(<MemoryRouter><DocumentsPage /></MemoryRouter>);
    await screen.findByText(/No documents here yet/);
    const zone = screen.getByTestId("dropzone");
    fireEvent.dragOver(zone);
    expect(zone.className).toContain("over");
    const files = [new File(["x"], "same.md", { type: "text/markdown" }), new File(["y"], "photo.png", { type: "image/png" })];
    fireEvent.drop(zone, { dataTransfer: { files } });
    expect(zone.className).not.toContain("over");
    const uploads = await screen.findByRole("list", { name: "Uploads" });
    expect(await within(uploads).findByText("already stored as “handbook.md”")).toBeTruthy();
    const failed = within(uploads).getByText("photo.png").closest("li")!;
    expect(within(failed).getByText("failed")).toBeTruthy();
    expect(within(failed).getByRole("alert").textContent).toContain("Images cannot be indexed");
  });

  it("filters the list by kind and by profile through the query", async () => {
    const { mock } = installFetch({
      "GET /documents": () => json(200, { items: [READY] }),
      "GET /profiles": () => json(200, { items: [{ id: "p1", name: "Work", instruction_ids: [], dataset_ids: [] }] }),
    });
    render(<MemoryRouter><DocumentsPage /></MemoryRouter>);
    const user = userEvent.setup();
    await screen.findByText("handbook.md");
    await user.selectOptions(screen.getByLabelText("Kind"), "dataset");
    await user.selectOptions(await screen.findByLabelText("Profile"), "p1");
    await waitFor(() => expect(documentQueries(mock).at(-1)).toEqual({ kind: "dataset", profile: "p1" }));
  });

  it("polls while a document is pending until extraction finishes", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      let listed = 0;
      installFetch({
        "GET /documents": () => {
          listed++;
          return json(200, { items: [{ ...READY, status: listed > 1 ? "ready" : "pending" }] });
        },
        "GET /profiles": () => json(200, { items: [] }),
      });
      render(<MemoryRouter><DocumentsPage /></MemoryRouter>);
      expect(await screen.findByText("pending")).toBeTruthy();
      await vi.advanceTimersByTimeAsync(2100);
      expect(await screen.findByText("ready")).toBeTruthy();
      await vi.advanceTimersByTimeAsync(5000);
      expect(listed).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it("shows background ingestion (waiting, indexing with progress) and follows it until ready", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      const states = ["pending", "processing", "ready"];
      let listed = 0;
      installFetch({
        "GET /documents": () => {
          const status = states[Math.min(listed++, states.length - 1)];
          return json(200, { items: [{ ...READY, status, updated_at: new Date().toISOString() }] });
        },
        "GET /profiles": () => json(200, { items: [] }),
      });
      render(<MemoryRouter><DocumentsPage /></MemoryRouter>);
      expect(await screen.findByText("waiting to be indexed")).toBeTruthy();
      expect(screen.queryByRole("button", { name: "Retry indexing handbook.md" })).toBeNull();
      await vi.advanceTimersByTimeAsync(2100);
      expect(await screen.findByLabelText("Indexing handbook.md")).toBeTruthy();
      await vi.advanceTimersByTimeAsync(2100);
      expect(await screen.findByText("ready")).toBeTruthy();
      expect(screen.queryByLabelText("Indexing handbook.md")).toBeNull();
    } finally {
      vi.useRealTimers();
    }
  });

  it("retries a failed document's ingestion, and a stalled one's, then follows it again", async () => {
    const hourAgo = new Date(Date.now() - 60 * 60 * 1000).toISOString();
    const STALLED = { ...READY, id: "d4", name: "big.pdf", status: "processing", updated_at: hourAgo } as DocumentMeta;
    let retried = false;
    const { calls } = installFetch({
      "GET /documents": () =>
        json(200, { items: [retried ? { ...FAILED, status: "pending", failure_reason: undefined, updated_at: new Date().toISOString() } : FAILED, STALLED] }),
      "GET /profiles": () => json(200, { items: [] }),
      "POST /documents/d2/reindex": () => {
        retried = true;
        return json(202, { model: null, documents: 1, embedded: 0, queued: 0, failed: 0, running: false });
      },
      "POST /documents/d4/reindex": () => json(202, { model: null, documents: 1, embedded: 0, queued: 0, failed: 0, running: false }),
    });
    render(<MemoryRouter><DocumentsPage /></MemoryRouter>);
    await screen.findByText("the PDF is encrypted");
    await userEvent.click(screen.getByRole("button", { name: "Retry indexing big.pdf" }));
    await waitFor(() => expect(calls.some((c) => c.method === "POST" && c.path === "/documents/d4/reindex")).toBe(true));
    await userEvent.click(screen.getByRole("button", { name: "Retry indexing scan.pdf" }));
    expect(await screen.findByText("waiting to be indexed")).toBeTruthy();
    expect(screen.queryByText("the PDF is encrypted")).toBeNull();
    expect(screen.queryByRole("button", { name: "Retry indexing scan.pdf" })).toBeNull();
  });

  it("pages through every document with Load more, and a refresh keeps the pages shown", async () => {
    const doc = (i: number) => ({ ...READY, id: `p${i}`, name: `note-${i}.md` });
    const pages: Record<string, { items: DocumentMeta[]; next_cursor: string | null }> = {
      "": { items: [doc(1), doc(2)], next_cursor: "c2" },
      c2: { items: [doc(3), doc(4)], next_cursor: "c3" },
      c3: { items: [doc(5)], next_cursor: null },
    };
    const { calls } = installFetch({
      "GET /documents": ({ url }) => json(200, pages[url.searchParams.get("cursor") ?? ""]),
      "GET /profiles": () => json(200, { items: [] }),
      "PATCH /documents/p5": () => json(200, { ...doc(5), name: "renamed.md" }),
    });
    render(<MemoryRouter><DocumentsPage /></MemoryRouter>);
    await screen.findByText("note-2.md");
    expect(screen.queryByText("note-3.md")).toBeNull();
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "Load more documents" }));
    await screen.findByText("note-4.md");
    await user.click(screen.getByRole("button", { name: "Load more documents" }));
    await screen.findByText("note-5.md");
    expect(screen.queryByRole("button", { name: "Load more documents" })).toBeNull();
    // An action reloads the list: all three pages again, not just the first.
    await user.click(screen.getByRole("button", { name: "Rename note-5.md" }));
    await user.clear(screen.getByLabelText("New name for note-5.md"));
    await user.type(screen.getByLabelText("New name for note-5.md"), "renamed.md{Enter}");
    await waitFor(() => expect(calls.filter((c) => c.method === "GET" && c.path === "/documents").length).toBe(6));
    expect(screen.getByText("note-1.md")).toBeTruthy();
    expect(screen.getByText("note-5.md")).toBeTruthy();
  });

  it("shows a preview's error and closes the preview", async () => {
    installFetch({
      "GET /documents": () => json(200, { items: [READY] }),
      "GET /profiles": () => json(200, { items: [] }),
      "GET /documents/d1/content": () => problem(404, "no extracted text yet"),
    });
    render(<MemoryRouter><DocumentsPage /></MemoryRouter>);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Preview handbook.md" }));
    expect((await screen.findByRole("alert")).textContent).toBe("Preview: No extracted text yet (HTTP 404)");
    await user.click(screen.getByRole("button", { name: "Close" }));
    expect(screen.queryByRole("heading", { name: /Extracted text/ })).toBeNull();
  });

  it("shows which documents rank by BM25 alone and starts a re-index that reports its progress", async () => {
    const model = "local:all-MiniLM-L6-v2";
    const embedded: DocumentMeta = { ...RULES, embedding_model: model };
    let started = false;
    const { calls } = installFetch({
      "GET /documents": () => json(200, { items: [started ? { ...READY, reindex: "embedding" } : READY, embedded] }),
      "GET /profiles": () => json(200, { items: [] }),
      "GET /documents/reindex": () =>
        json(200, { model, documents: 2, embedded: 1, queued: started ? 1 : 0, failed: 0, running: started }),
      "POST /documents/reindex": () => {
        started = true;
        return json(202, { model, documents: 2, embedded: 1, queued: 1, failed: 0, running: true });
      },
    });
    render(<MemoryRouter><DocumentsPage /></MemoryRouter>);
    await screen.findByText("handbook.md");
    const status = await screen.findByRole("status", { name: "Search index" });
    expect(status.textContent).toContain("1 of 2 documents embedded");
    expect(screen.getByTestId("index-d1").textContent).toBe("BM25 only");
    expect(screen.getByTestId("index-d3").textContent).toBe("hybrid");
    await userEvent.setup().click(within(status).getByRole("button", { name: "Re-index 1 document" }));
    expect(calls.some((c) => c.method === "POST" && c.path === "/documents/reindex")).toBe(true);
    expect((await screen.findByRole("status", { name: "Search index" })).textContent).toContain("1 re-indexing");
    expect(await screen.findByLabelText("Re-index progress")).toBeTruthy();
    await screen.findByText("embedding…");
  });

  it("counts a new upload in the search index summary without a page reload", async () => {
    let uploaded = false;
    installFetch({
      "GET /documents": () => json(200, { items: uploaded ? [{ ...READY, embedding_model: "local:m" }] : [] }),
      "GET /profiles": () => json(200, { items: [] }),
      "GET /documents/reindex": () =>
        json(200, { model: "local:m", documents: uploaded ? 1 : 0, embedded: uploaded ? 1 : 0, queued: 0, failed: 0, running: false }),
    });
    render(<MemoryRouter><DocumentsPage /></MemoryRouter>);
    await screen.findByText(/0 of 0 documents embedded/);
    uploaded = true;
    const file = new File(["# Notes\nhello"], "notes.md", { type: "text/markdown" });
    await userEvent.setup().upload(screen.getByLabelText("Files to upload"), file);
    await screen.findByText(/1 of 1 documents embedded/);
  });

  it("hides the search index panel when no embedding model is configured", async () => {
    installFetch({
      "GET /documents": () => json(200, { items: [READY] }),
      "GET /profiles": () => json(200, { items: [] }),
      "GET /documents/reindex": () => json(200, { model: null, documents: 1, embedded: 0, queued: 0, failed: 0, running: false }),
    });
    render(<MemoryRouter><DocumentsPage /></MemoryRouter>);
    await screen.findByText("handbook.md");
    expect(screen.queryByRole("status", { name: "Search index" })).toBeNull();
    expect(screen.queryByTestId("index-d1")).toBeNull();
  });
});

/** The query strings of the document list requests, as objects, in order. */
function documentQueries(mock: { mock: { calls: unknown[][] } }) {
  return mock.mock.calls
    .map(([input]) => new URL(String(input), "http://localhost"))
    .filter((u) => u.pathname === "/documents")
    .map((u) => Object.fromEntries(u.searchParams));
}

describe("DocumentsPage folders", () => {
  const TREE = [
    { path: "", documents: 0, total: 2 },
    { path: "notes", documents: 1, total: 2 },
    { path: "notes/old", documents: 1, total: 1 },
  ];

  it("shows the folder tree, lists a chosen folder with its subfolders, and uploads into it", async () => {
    const { mock } = installFetch({
      "GET /documents": () => json(200, { items: [{ ...READY, folder: "notes/old" }] }),
      "GET /documents/folders": () => json(200, { items: TREE, next_cursor: null }),
      "GET /profiles": () => json(200, { items: [] }),
    });
    render(<MemoryRouter><DocumentsPage /></MemoryRouter>);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: /^notes\s?2$/ }));
    await waitFor(() => expect(documentQueries(mock).at(-1)).toEqual({ folder: "notes", recursive: "true" }));
    expect(screen.getByRole("heading", { name: "Documents in notes" })).toBeTruthy();
    expect(screen.getByText("handbook.md").closest("tr")!.textContent).toContain("notes/old/");
    expect((screen.getByLabelText("Into folder") as HTMLInputElement).value).toBe("notes");
    await user.upload(screen.getByLabelText("Files to upload"), new File(["# N"], "n.md", { type: "text/markdown" }));
    await screen.findByText("uploaded");
    expect(FakeXhr.sent[0].url).toBe("/documents?kind=dataset&name=n.md&folder=notes");
  });

  it("uploads a chosen folder keeping each file's path", async () => {
    installFetch({
      "GET /documents": () => json(200, { items: [] }),
      "GET /profiles": () => json(200, { items: [] }),
    });
    render(<MemoryRouter><DocumentsPage /></MemoryRouter>);
    await screen.findByText(/No documents here yet/);
    const picker = screen.getByLabelText("Folder to upload") as HTMLInputElement;
    expect(picker.hasAttribute("webkitdirectory")).toBe(true);
    const file = (path: string) => {
      const f = new File(["# R"], path.split("/").pop()!, { type: "text/markdown" });
      Object.defineProperty(f, "webkitRelativePath", { value: path });
      return f;
    };
    await userEvent.setup().upload(picker, [file("data/a/README.md"), file("data/b/README.md")]);
    await waitFor(() => expect(FakeXhr.sent).toHaveLength(2));
    expect(FakeXhr.sent.map((s) => s.url).sort()).toEqual([
      "/documents?kind=dataset&name=README.md&folder=data%2Fa",
      "/documents?kind=dataset&name=README.md&folder=data%2Fb",
    ]);
  });

  it("walks a dropped folder and uploads its files with their folders", async () => {
    installFetch({
      "GET /documents": () => json(200, { items: [] }),
      "GET /profiles": () => json(200, { items: [] }),
    });
    render(<MemoryRouter><DocumentsPage /></MemoryRouter>);
    await screen.findByText(/No documents here yet/);
    const fileEntry = (name: string) => ({
      isFile: true,
      isDirectory: false,
      name,
      file: (ok: (f: File) => void) => ok(new File(["# x"], name, { type: "text/markdown" })),
    });
    const dir = (name: string, children: unknown[]) => ({
      isFile: false,
      isDirectory: true,
      name,
      createReader: () => {
        let given = false;
        return {
          readEntries: (ok: (e: unknown[]) => void) => {
            ok(given ? [] : children);
            given = true;
          },
        };
      },
    });
    const root = dir("ragbot", [fileEntry("top.md"), dir("a", [fileEntry("README.md")]), fileEntry(".hidden")]);
    fireEvent.drop(screen.getByTestId("dropzone"), {
      dataTransfer: { files: [], items: [{ webkitGetAsEntry: () => root }] },
    });
    await waitFor(() => expect(FakeXhr.sent).toHaveLength(2));
    expect(FakeXhr.sent.map((s) => s.url).sort()).toEqual([
      "/documents?kind=dataset&name=README.md&folder=ragbot%2Fa",
      "/documents?kind=dataset&name=top.md&folder=ragbot",
    ]);
  });

  it("renames a folder with its subfolders, repeating the call until the server says it is done", async () => {
    let tree = TREE;
    const steps = [
      { from: "notes", to: "archive/notes", moved: 2, remaining: 1, profiles_updated: 1, done: false },
      { from: "notes", to: "archive/notes", moved: 1, remaining: 0, profiles_updated: 1, done: true },
    ];
    const { calls } = installFetch({
      "GET /documents": () => json(200, { items: [{ ...READY, folder: "notes/old" }] }),
      "GET /documents/folders": () => json(200, { items: tree, next_cursor: null }),
      "GET /profiles": () => json(200, { items: [] }),
      "POST /documents/folders/rename": () => {
        const step = steps.shift()!;
        if (step.done) tree = [TREE[0], { path: "archive", documents: 0, total: 2 }, { path: "archive/notes", documents: 1, total: 2 }, { path: "archive/notes/old", documents: 1, total: 1 }];
        return json(200, step);
      },
    });
    render(<MemoryRouter><DocumentsPage /></MemoryRouter>);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: /^old\s?1$/ }));
    await user.click(screen.getByRole("button", { name: "Rename or move folder notes" }));
    const input = screen.getByLabelText(/New path for notes/);
    await user.clear(input);
    await user.type(input, "archive/notes{Enter}");
    const status = await screen.findByRole("status", { name: "Folder move" });
    await waitFor(() => expect(status.textContent).toBe("Moved notes to archive/notes: 3 documents."));
    expect(calls.filter((c) => c.path === "/documents/folders/rename").map((c) => c.body)).toEqual([
      { from: "notes", to: "archive/notes" },
      { from: "notes", to: "archive/notes" },
    ]);
    // The chosen folder moved with it: the list and the upload target follow.
    expect(await screen.findByRole("heading", { name: "Documents in archive/notes/old" })).toBeTruthy();
    expect((screen.getByLabelText("Into folder") as HTMLInputElement).value).toBe("archive/notes/old");
    expect(await screen.findByRole("button", { name: "Rename or move folder archive/notes/old" })).toBeTruthy();
  });

  it("shows a refused folder move and moves nothing more", async () => {
    const { calls } = installFetch({
      "GET /documents": () => json(200, { items: [] }),
      "GET /documents/folders": () => json(200, { items: TREE, next_cursor: null }),
      "GET /profiles": () => json(200, { items: [] }),
      "POST /documents/folders/rename": () => problem(409, "nothing moved: 1 name is already taken at the destination"),
    });
    render(<MemoryRouter><DocumentsPage /></MemoryRouter>);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Rename or move folder notes/old" }));
    await user.type(screen.getByLabelText(/New path for notes\/old/), "er{Enter}");
    expect((await screen.findByRole("alert")).textContent).toContain("already taken at the destination");
    expect(calls.filter((c) => c.path === "/documents/folders/rename")).toHaveLength(1);
    expect(screen.queryByRole("status", { name: "Folder move" })).toBeNull();
  });
});
