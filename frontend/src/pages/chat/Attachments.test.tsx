import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { installFetch, json } from "../../test/fakeFetch";
import { signedInEachTest } from "../../test/session";
import { AttachmentChips, type ComposerAttachment } from "./Attachments";
import { Composer } from "./Composer";

/** An XMLHttpRequest that answers an upload with a stored document once released. */
class HeldXhr {
  static release: (() => void)[] = [];
  static urls: string[] = [];
  upload = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  status = 0;
  responseText = "";
  private url = "";
  open(_method: string, url: string) {
    this.url = url;
  }
  setRequestHeader() {}
  getResponseHeader() {
    return "application/json";
  }
  abort() {}
  send() {
    HeldXhr.urls.push(this.url);
    HeldXhr.release.push(() => {
      this.status = 201;
      this.responseText = JSON.stringify({ id: "d7", name: "scan.md", kind: "dataset", status: "ready" });
      this.onload?.();
    });
  }
}

function Harness({ sent }: { sent: { text: string; ids: string[] }[] }) {
  const [value, setValue] = useState("");
  const [attachments, setAttachments] = useState<ComposerAttachment[]>([]);
  return (
    <Composer
      value={value}
      onChange={setValue}
      onSend={() => sent.push({ text: value, ids: attachments.flatMap((a) => (a.id ? [a.id] : [])) })}
      onStop={() => undefined}
      streaming={false}
      attachments={attachments}
      onAttachmentsChange={setAttachments}
      estimateFor={{ model: "gpt-test" }}
    />
  );
}

signedInEachTest();
beforeEach(() => {
  HeldXhr.release = [];
  HeldXhr.urls = [];
});

describe("attachments", () => {
  it("attaches an existing document as a chip, sends its id with the estimate, and removes it", async () => {
    const { calls } = installFetch({
      "GET /documents": () =>
        json(200, {
          items: [
            { id: "d1", name: "invoice.md", folder: "inbox", kind: "dataset", status: "ready" },
            { id: "d2", name: "draft.md", folder: "", kind: "dataset", status: "pending" },
          ],
        }),
      "POST /chat/estimate": () => json(200, {}),
    });
    const sent: { text: string; ids: string[] }[] = [];
    render(<Harness sent={sent} />);
    const user = userEvent.setup();
    const picker = screen.getByLabelText("Attach a document");
    fireEvent.focus(picker);
    await screen.findByRole("option", { name: "inbox/invoice.md" });
    expect(screen.queryByRole("option", { name: "draft.md" })).toBeNull();
    await user.selectOptions(picker, "d1");
    const chips = screen.getByRole("list", { name: "Attached to this message" });
    expect(within(chips).getByText(/invoice\.md/)).toBeTruthy();
    await user.type(screen.getByLabelText("Message"), "total?");
    await waitFor(() => expect(calls.some((c) => c.path === "/chat/estimate" && (c.body as { attachments?: string[] }).attachments?.[0] === "d1")).toBe(true));
    await user.keyboard("{Enter}");
    expect(sent).toEqual([{ text: "total?", ids: ["d1"] }]);
    await user.click(within(chips).getByRole("button", { name: "Remove invoice.md" }));
    expect(screen.queryByRole("list", { name: "Attached to this message" })).toBeNull();
  });

  it("uploads a file dropped on the composer first, and holds the send until it is stored", async () => {
    installFetch({ "POST /chat/estimate": () => json(200, {}) });
    vi.stubGlobal("XMLHttpRequest", HeldXhr);
    const sent: { text: string; ids: string[] }[] = [];
    render(<Harness sent={sent} />);
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Message"), "what does it say?");
    fireEvent.drop(screen.getByTestId("composer"), {
      dataTransfer: { files: [new File(["# Scan"], "scan.md", { type: "text/markdown" })] },
    });
    await screen.findByText(/uploading/);
    expect(HeldXhr.urls).toEqual(["/documents?kind=dataset&name=scan.md"]);
    expect((screen.getByRole("button", { name: "Send" }) as HTMLButtonElement).disabled).toBe(true);
    await user.keyboard("{Enter}");
    expect(sent).toEqual([]);
    HeldXhr.release.forEach((r) => r());
    await waitFor(() => expect(screen.queryByText(/uploading/)).toBeNull());
    await user.click(screen.getByRole("button", { name: "Send" }));
    expect(sent).toEqual([{ text: "what does it say?", ids: ["d7"] }]);
  });

  it("shows a message's attachments as chips", () => {
    render(<AttachmentChips items={[{ document_id: "d1", name: "invoice.md" }, { document_id: "d2", name: "notes.md" }]} />);
    const chips = screen.getByRole("list", { name: "Attachments" });
    expect(within(chips).getAllByRole("listitem").map((li) => li.textContent)).toEqual(["📎 invoice.md", "📎 notes.md"]);
    expect(within(chips).queryByRole("button")).toBeNull();
  });
});
