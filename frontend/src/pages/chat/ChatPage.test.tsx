import { fireEvent, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { Message } from "../../api/models";
import { installFetch, json, problem, sse, type Handler } from "../../test/fakeFetch";
import { renderRoutes } from "../../test/render";
import { signedInEachTest } from "../../test/session";
import ChatPage from "./ChatPage";

const USER = { id: "m1", parent_id: null, role: "user", content: "How often are zebrafish fed?", created_at: "2026-01-01T00:00:01Z" } as Message;
const ANSWER: Message = {
  id: "m2",
  conversation_id: "c1",
  parent_id: "m1",
  role: "assistant",
  content: "Twice a day [1].",
  model: "gpt-test",
  created_at: "2026-01-01T00:00:02Z",
  usage: { input: 1200, output: 8, cache_read: 0, cache_write: 0 },
  cost: { total_usd: 0.00312, input_usd: 0.003, output_usd: 0.00012, estimated: false },
  finish_reason: "stop",
  citations: [{ n: 1, document_id: "d1", document_name: "handbook.md", version: 1, heading_path: ["Handbook", "Feeding"], start: 24, end: 60 }],
};
const HANDBOOK = "# Handbook\n\n## Feeding\n\nAdult zebrafish are fed twice a day. Larvae eat paramecia.";
const REGENERATED: Message = { ...ANSWER, id: "m3", content: "Two times daily [1].", created_at: "2026-01-01T00:00:03Z" };

/** A catalog of two models, gpt-test the default. */
const TWO_MODELS = {
  default_model: "gpt-test",
  items: [
    { id: "gpt-test", provider: "openai", context_window: 128000 },
    { id: "claude-test", provider: "anthropic", context_window: 200000 },
  ],
};

function base(overrides: Record<string, Handler> = {}) {
  return installFetch({
    "GET /conversations": () => json(200, { items: [], next_cursor: null }),
    "GET /profiles": () => json(200, { items: [{ id: "p1", name: "Lab", instruction_ids: [], dataset_ids: ["d1"], parent_ids: [] }] }),
    "GET /models": () =>
      json(200, { items: [{ id: "gpt-test", provider: "openai", context_window: 128000, input_price: 2.5, output_price: 10 }] }),
    "GET /users/me/preferences": () => json(200, {}),
    "POST /chat/estimate": () =>
      json(200, {
        model: "gpt-test",
        context_window: 128000,
        reserved_output_tokens: 4096,
        context: { instructions_tokens: 0, datasets_tokens: 1190, history_tokens: 0, prompt_tokens: 10, datasets_mode: "whole" },
        total_input_tokens: 1200,
        estimated_cost_usd: 0.003,
        priced: true,
      }),
    "GET /documents/d1/content": () => new Response(HANDBOOK, { headers: { "Content-Type": "text/plain; charset=utf-8" } }),
    ...overrides,
  });
}

function renderChat(path = "/app/chat") {
  return renderRoutes(path, { "/app/chat/:conversationId?": <ChatPage /> });
}

signedInEachTest();

describe("ChatPage", () => {
  it("the conversation list pages through every conversation with Load more", async () => {
    const conv = (i: number) => ({ id: `c${i}`, title: `Chat ${i}`, profile_id: "p1", model: "gpt-test" });
    base({
      "GET /conversations": ({ url }) =>
        url.searchParams.get("cursor") === "page2"
          ? json(200, { items: [conv(3)], next_cursor: null })
          : json(200, { items: [conv(1), conv(2)], next_cursor: "page2" }),
    });
    renderChat();
    await screen.findByText("Chat 2");
    expect(screen.queryByText("Chat 3")).toBeNull();
    await userEvent.click(screen.getByRole("button", { name: "Load more conversations" }));
    await screen.findByText("Chat 3");
    expect(screen.queryByRole("button", { name: "Load more conversations" })).toBeNull();
  });

  it("searches conversations and highlights the matched words of the best message as text", async () => {
    const conv = { id: "c9", title: "Lab notes", profile_id: "p1", model: "gpt-test" };
    base({
      "GET /conversations/search": ({ url }) =>
        json(200, {
          items:
            url.searchParams.get("q") === "zebrafish"
              ? [{ conversation: conv, message_id: "m1", snippet: "&lt;b&gt; <mark>zebrafish</mark> &amp; larvae", score: 2.5 }]
              : [],
        }),
    });
    renderChat();
    await userEvent.type(screen.getByLabelText("Search conversations"), "zebrafish");
    const results = await screen.findByRole("list", { name: "Search results" });
    const link = await within(results).findByRole("link", { name: /Lab notes/ });
    expect(link.textContent).toBe("Lab notes<b> zebrafish & larvae");
    expect(link.querySelector("mark")?.textContent).toBe("zebrafish");
    expect(link.querySelector("b")).toBeNull();
  });

  it("streams an answer into a new conversation, then shows the stored answer with its cost and citation", async () => {
    let stored = false;
    const { calls } = base({
      "POST /conversations": () => json(201, { id: "c1", profile_id: "p1", model: "gpt-test", title: null }),
      "POST /conversations/c1/messages": () =>
        sse(
          [
            'event: meta\ndata: {"event":"meta","conversation_id":"c1","user_message_id":"m1","assistant_message_id":"m2","parent_id":"m1","model":"gpt-test","context":{}}\n\n',
            'event: delta\ndata: {"event":"delta","text":"Twice a "}\n\n',
            'event: delta\ndata: {"event":"delta","text":"day [1]."}\n\n',
            'event: usage\ndata: {"event":"usage","usage":{"input":1200,"output":8},"cost":{"total_usd":0.00312,"estimated":false}}\n\n',
            'event: done\ndata: {"event":"done","finish_reason":"stop","message":{"id":"m2"}}\n\n',
          ],
          5,
        ),
      "GET /conversations/c1": () => {
        stored = true;
        return json(200, { id: "c1", title: "Zebrafish feeding", profile_id: "p1", model: "gpt-test", messages: [USER, ANSWER] });
      },
    });
    renderChat();
    const user = userEvent.setup();
    // The model selector shows context size and price.
    expect(await screen.findByRole("option", { name: /gpt-test · 128k ctx · \$2\.50\/M in \/ \$10\.00\/M out/ })).toBeTruthy();
    await vi.waitFor(() => expect((screen.getByLabelText("Profile") as HTMLSelectElement).value).toBe("p1"));
    await user.type(screen.getByLabelText("Message"), "How often are zebrafish fed?{Enter}");

    // While streaming, the answer grows in a pending bubble; at the end the stored one replaces it.
    await screen.findByTestId("pending-answer");
    const usage = await screen.findByTestId("answer-usage", {}, { timeout: 10_000 });
    expect(screen.queryByTestId("pending-answer")).toBeNull();
    expect(stored).toBe(true);
    screen.getByText("Zebrafish feeding");
    const answer = usage.closest("article")!;
    expect(answer.textContent).toContain("Twice a day");
    expect(within(answer).getByTestId("answer-usage").textContent).toBe("1,200 in · 8 out · $0.0031");
    const sent = calls.find((c) => c.path === "/conversations/c1/messages");
    // No model was picked: none is sent, so the server's rule decides (the profile's default first).
    expect(sent?.body).toEqual({ content: "How often are zebrafish fed?" });
    expect(calls.find((c) => c.method === "POST" && c.path === "/conversations")?.body).toEqual({ profile_id: "p1" });

    await user.click(within(answer).getByRole("button", { name: "Citation 1" }));
    const panel = screen.getByRole("dialog", { name: "Citation 1" });
    expect(document.activeElement).toBe(within(panel).getByRole("button", { name: "Close" }));
    expect(panel.textContent).toContain("handbook.md");
    expect(panel.textContent).toContain("Handbook › Feeding");
    expect((await within(panel).findByTestId("cited-passage")).textContent).toBe("Adult zebrafish are fed twice a day.");
    await user.click(within(panel).getByRole("button", { name: "Show it in the document" }));
    expect(within(panel).getByTestId("cited-context").querySelector("mark")?.textContent).toBe("Adult zebrafish are fed twice a day.");
  });

  it("shows the attachments of the question just sent as chips while its answer streams", async () => {
    // The answer's stream stays open until the test has looked.
    let finish: () => void = () => undefined;
    const held = new ReadableStream<Uint8Array>({
      start(c) {
        const enc = new TextEncoder();
        c.enqueue(enc.encode('event: meta\ndata: {"event":"meta","conversation_id":"c1","user_message_id":"m1","assistant_message_id":"m2","parent_id":null,"model":"gpt-test","context":{}}\n\n'));
        c.enqueue(enc.encode('event: delta\ndata: {"event":"delta","text":"Reading it"}\n\n'));
        finish = () => c.close();
      },
    });
    const { calls } = base({
      "GET /conversations/c1": () => json(200, { id: "c1", profile_id: "p1", model: "gpt-test", messages: [] }),
      "GET /documents": () => json(200, { items: [{ id: "d7", name: "invoice.md", folder: "", kind: "dataset", status: "ready" }] }),
      "POST /conversations/c1/messages": () => new Response(held, { status: 200, headers: { "Content-Type": "text/event-stream" } }),
    });
    renderChat("/app/chat/c1");
    const user = userEvent.setup();
    const picker = screen.getByLabelText("Attach a document");
    fireEvent.focus(picker);
    await screen.findByRole("option", { name: "invoice.md" });
    await user.selectOptions(picker, "d7");
    await user.type(screen.getByLabelText("Message"), "What is the total?{Enter}");
    await screen.findByText("Reading it");
    const question = screen.getByRole("article", { name: "Your message" });
    expect(within(within(question).getByRole("list", { name: "Attachments" })).getByText(/invoice\.md/)).toBeTruthy();
    expect(calls.find((c) => c.path === "/conversations/c1/messages")!.body).toMatchObject({ content: "What is the total?", attachments: ["d7"] });
    // The composer is empty again: the chips moved to the message.
    expect(screen.queryByRole("list", { name: "Attached to this message" })).toBeNull();
    finish();
  });

  it("keeps the typed message when the server refuses it, and says why", async () => {
    base({
      "GET /conversations/c1": () => json(200, { id: "c1", profile_id: "p1", model: "gpt-test", messages: [] }),
      "POST /conversations/c1/messages": () => problem(402, "the monthly budget of this profile is spent"),
    });
    renderChat("/app/chat/c1");
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Message"), "One more question{Enter}");
    const notice = await screen.findByTestId("limit-notice");
    expect(notice.getAttribute("role")).toBe("alert");
    expect(notice.textContent).toContain("Monthly spending limit reached.");
    expect(notice.textContent).toContain("The monthly budget of this profile is spent.");
    expect(notice.textContent).toContain("It renews on");
    await vi.waitFor(() => expect((screen.getByLabelText("Message") as HTMLTextAreaElement).value).toBe("One more question"));
  });

  it("says when a rate-limited message can be sent again, with a countdown", async () => {
    base({
      "GET /conversations/c1": () => json(200, { id: "c1", profile_id: "p1", model: "gpt-test", messages: [] }),
      "POST /conversations/c1/messages": () =>
        new Response(JSON.stringify({ type: "urn:ragenie:problem:rate-limited", title: "Too Many Requests", status: 429, detail: "at most 60 answers a minute; retry in 30 seconds" }), {
          status: 429,
          headers: { "Content-Type": "application/problem+json", "Retry-After": "30" },
        }),
    });
    renderChat("/app/chat/c1");
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Message"), "Quick one{Enter}");
    const notice = await screen.findByTestId("limit-notice");
    expect(notice.textContent).toContain("Too many requests for now.");
    expect(notice.textContent).toContain("At most 60 answers a minute");
    expect(within(notice).getByTestId("retry-countdown").textContent).toMatch(/^(30|29) s$/);
    expect(screen.getByTestId("pending-answer").textContent).toContain("not sent");
    await vi.waitFor(() => expect((screen.getByLabelText("Message") as HTMLTextAreaElement).value).toBe("Quick one"));
  });

  it("regenerates into a sibling and navigates between the branches", async () => {
    let messages = [USER, ANSWER];
    const { calls } = base({
      "GET /conversations/c1": () => json(200, { id: "c1", title: "T", profile_id: "p1", model: "gpt-test", messages }),
      "POST /conversations/c1/messages/m2/regenerate": () => {
        messages = [USER, ANSWER, REGENERATED];
        return sse(['event: delta\ndata: {"text":"Two times daily [1]."}\n\n', "event: done\ndata: {}\n\n"]);
      },
    });
    renderChat("/app/chat/c1");
    const user = userEvent.setup();
    await screen.findByText(/Twice a day/);
    // The first question has no answer before it to branch from.
    expect(screen.getByRole("button", { name: "Edit" }).hasAttribute("disabled")).toBe(true);
    await user.click(screen.getByRole("button", { name: "Regenerate" }));
    await screen.findByText("2/2");
    expect(calls.some((c) => c.path === "/conversations/c1/messages/m2/regenerate")).toBe(true);
    expect(screen.getByText(/Two times daily/)).toBeTruthy();
    await user.click(screen.getByRole("button", { name: "Previous branch" }));
    expect(screen.getByText("1/2")).toBeTruthy();
    expect(screen.getByText(/Twice a day/)).toBeTruthy();
    expect(screen.queryByText(/Two times daily/)).toBeNull();
  });

  it("shows the offline banner when no provider is available, and API errors readably", async () => {
    base({
      "GET /conversations": () => problem(503, "the store is busy; retry shortly"),
      "GET /models": () =>
        json(200, {
          offline: true,
          default_model: "ragenie-retrieval-only",
          items: [{ id: "ragenie-retrieval-only", provider: "openai_compatible", display_name: "Retrieval only (offline)", available: true }],
        }),
    });
    renderChat();
    expect((await screen.findByTestId("offline-banner")).textContent).toMatch(/Offline mode/);
    expect((await screen.findByText(/The store is busy; retry shortly/)).closest("[role=alert]")).toBeTruthy();
  });

  it("sends an edited question as a new branch after the same answer", async () => {
    const Q2 = { id: "m4", parent_id: "m2", role: "user", content: "And larvae?", created_at: "2026-01-01T00:00:04Z" } as Message;
    const A2 = { id: "m5", parent_id: "m4", role: "assistant", content: "Paramecia.", created_at: "2026-01-01T00:00:05Z" } as Message;
    const { calls } = base({
      "GET /conversations/c1": () => json(200, { id: "c1", title: "T", profile_id: "p1", model: "gpt-test", head_id: "m5", messages: [USER, ANSWER, Q2, A2] }),
      "POST /conversations/c1/messages": () => sse(['event: delta\ndata: {"text":"Paramecia, then brine shrimp."}\n\n', "event: done\ndata: {}\n\n"]),
    });
    renderChat("/app/chat/c1");
    const user = userEvent.setup();
    await screen.findByText("And larvae?");
    const edit = screen.getAllByRole("button", { name: "Edit" })[1];
    await user.click(edit);
    const box = screen.getByLabelText("Edit your message");
    await user.clear(box);
    await user.type(box, "And the larvae, at five days?{Enter}");
    await vi.waitFor(() => expect(calls.some((c) => c.path === "/conversations/c1/messages")).toBe(true));
    expect(calls.find((c) => c.path === "/conversations/c1/messages")!.body).toEqual({
      content: "And the larvae, at five days?",
      parent_id: "m2",
    });
  });

  it("shows the profile's default model for a new chat and sends a model only once the user picks one", async () => {
    const { calls } = base({
      "GET /profiles": () =>
        json(200, { items: [{ id: "p1", name: "Lab", instruction_ids: [], dataset_ids: [], parent_ids: [], default_model: "claude-test" }] }),
      "GET /models": () => json(200, TWO_MODELS),
      "GET /users/me/preferences": () => json(200, { default_model: "gpt-test" }),
      "POST /conversations": () => json(201, { id: "c1", profile_id: "p1", model: "claude-test", title: null }),
      "POST /conversations/c1/messages": () => sse(["event: done\ndata: {}\n\n"]),
      "GET /conversations/c1": () => json(200, { id: "c1", profile_id: "p1", model: "claude-test", messages: [] }),
    });
    renderChat();
    const user = userEvent.setup();
    const model = screen.getByLabelText("Model") as HTMLSelectElement;
    await vi.waitFor(() => expect(model.value).toBe("claude-test"));
    await user.type(screen.getByLabelText("Message"), "First{Enter}");
    await vi.waitFor(() => expect(calls.some((c) => c.path === "/conversations/c1/messages")).toBe(true));
    expect(calls.find((c) => c.method === "POST" && c.path === "/conversations")?.body).toEqual({ profile_id: "p1" });

    const picker = () => screen.getByLabelText("Model") as HTMLSelectElement;
    await vi.waitFor(() => expect(picker().disabled).toBe(false));
    await user.selectOptions(picker(), "gpt-test");
    expect(picker().value).toBe("gpt-test");
    await user.type(screen.getByLabelText("Message"), "Second{Enter}");
    await vi.waitFor(() => expect(calls.filter((c) => c.path === "/conversations/c1/messages").length).toBe(2));
    expect(calls.filter((c) => c.path === "/conversations/c1/messages")[1].body).toMatchObject({ content: "Second", model: "gpt-test" });
  });

  it("starts a new chat with the last profile and the model the user picked", async () => {
    const { calls } = base({
      "GET /profiles": () =>
        json(200, {
          items: [
            { id: "p1", name: "Lab", instruction_ids: [], dataset_ids: [], parent_ids: [] },
            { id: "p2", name: "Home", instruction_ids: [], dataset_ids: [], parent_ids: [] },
          ],
        }),
      "GET /models": () => json(200, TWO_MODELS),
      "POST /conversations": () => json(201, { id: "c1", profile_id: "p2", model: "claude-test", title: null }),
      "POST /conversations/c1/messages": () => sse(["event: done\ndata: {}\n\n"]),
      "GET /conversations/c1": () => json(200, { id: "c1", profile_id: "p2", model: "claude-test", messages: [USER, ANSWER] }),
    });
    const first = renderChat();
    const user = userEvent.setup();
    const profile = () => screen.getByRole("combobox", { name: "Profile" }) as HTMLSelectElement;
    const model = () => screen.getByRole("combobox", { name: "Model" }) as HTMLSelectElement;
    await vi.waitFor(() => expect(profile().value).toBe("p1"));
    await user.selectOptions(profile(), "p2");
    await user.selectOptions(model(), "claude-test");
    await user.type(screen.getByLabelText("Message"), "First{Enter}");
    await vi.waitFor(() => expect(calls.some((c) => c.path === "/conversations/c1/messages")).toBe(true));
    expect(calls.find((c) => c.method === "POST" && c.path === "/conversations")?.body).toEqual({ profile_id: "p2", model: "claude-test" });
    expect(screen.getByRole("option", { name: "No profile: all your datasets" })).toBeTruthy();
    await screen.findByText(/Twice a day/);

    // "New chat" in the same session keeps both.
    await user.click(screen.getByRole("button", { name: "+ New chat" }));
    await screen.findByRole("heading", { name: "New chat" });
    expect(profile().value).toBe("p2");
    expect(model().value).toBe("claude-test");
    expect(profile().disabled).toBe(false);

    // And so does the next visit (a reload), from what this device remembers.
    first.unmount();
    renderChat();
    await vi.waitFor(() => expect(profile().value).toBe("p2"));
    await vi.waitFor(() => expect(model().value).toBe("claude-test"));
  });

  it("renames the conversation in place: Enter saves, Escape cancels", async () => {
    let title = "Zebrafish feeding";
    const { calls } = base({
      "GET /conversations/c1": () => json(200, { id: "c1", title, profile_id: "p1", model: "gpt-test", messages: [USER, ANSWER] }),
      "PATCH /conversations/c1": ({ body }) => {
        title = (body as { title: string }).title;
        return json(200, { id: "c1", title, profile_id: "p1", model: "gpt-test" });
      },
    });
    renderChat("/app/chat/c1");
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: /^Zebrafish feeding\s*\(rename\)$/ }));
    const field = screen.getByLabelText("Conversation title") as HTMLInputElement;
    expect(field.value).toBe("Zebrafish feeding");
    await user.clear(field);
    await user.type(field, "Feeding schedule{Escape}");
    expect(screen.queryByLabelText("Conversation title")).toBeNull();
    expect(calls.some((c) => c.method === "PATCH")).toBe(false);

    await user.click(screen.getByRole("button", { name: /^Zebrafish feeding\s*\(rename\)$/ }));
    await user.clear(screen.getByLabelText("Conversation title"));
    await user.type(screen.getByLabelText("Conversation title"), "Feeding schedule{Enter}");
    expect(await screen.findByRole("button", { name: /^Feeding schedule\s*\(rename\)$/ })).toBeTruthy();
    expect(calls.find((c) => c.method === "PATCH")?.body).toEqual({ title: "Feeding schedule" });
  });

  it("keeps the title field open with the text when the rename is refused", async () => {
    base({
      "GET /conversations/c1": () => json(200, { id: "c1", title: "T", profile_id: "p1", model: "gpt-test", messages: [] }),
      "PATCH /conversations/c1": () => problem(422, "the title is too long"),
    });
    renderChat("/app/chat/c1");
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: /^T\s*\(rename\)$/ }));
    await user.type(screen.getByLabelText("Conversation title"), "x{Enter}");
    expect((await screen.findByText("The title is too long")).closest("[role=alert]")).toBeTruthy();
    expect((screen.getByLabelText("Conversation title") as HTMLInputElement).value).toBe("Tx");
  });

  it("shows an answer's model, tokens, cost and sources behind Details", async () => {
    const withContext: Message = {
      ...ANSWER,
      context: {
        instructions_tokens: 0,
        datasets_tokens: 1190,
        history_tokens: 0,
        prompt_tokens: 10,
        datasets_mode: "whole",
        history_messages_dropped: 0,
        history_messages_sent: 0,
        documents: [{ document_id: "d1", name: "handbook.md", version: 1, kind: "dataset", mode: "whole", tokens: 1190 }],
      },
    };
    base({ "GET /conversations/c1": () => json(200, { id: "c1", title: "T", profile_id: "p1", model: "gpt-test", messages: [USER, withContext] }) });
    renderChat("/app/chat/c1");
    const user = userEvent.setup();
    const answer = await screen.findByRole("article", { name: "Answer" });
    const toggle = within(answer).getByRole("button", { name: "Details" });
    const details = within(answer).getByTestId("message-details");
    expect(toggle.getAttribute("aria-expanded")).toBe("false");
    expect(details.className).not.toContain("open");
    await user.click(toggle);
    expect(toggle.getAttribute("aria-expanded")).toBe("true");
    expect(details.className).toContain("open");
    expect(toggle.getAttribute("aria-controls")).toBe(details.id);
    expect(details.textContent).toContain("gpt-test");
    expect(details.textContent).toContain("1,200 in · 8 out · $0.0031");
    expect(details.textContent).toContain("handbook.md (whole, 1,190 tokens)");
    await user.keyboard("{Escape}");
    expect(details.className).not.toContain("open");
  });

  it("opens the conversation list as a drawer and closes it with Escape, Close or a pick", async () => {
    base({ "GET /conversations": () => json(200, { items: [{ id: "c9", title: "Older chat" }], next_cursor: null }) });
    renderChat();
    const user = userEvent.setup();
    const toggle = screen.getByRole("button", { name: "Chats" });
    const drawer = screen.getByRole("complementary", { name: "Conversations" });
    expect(toggle.getAttribute("aria-controls")).toBe(drawer.id);
    await user.click(toggle);
    expect(toggle.getAttribute("aria-expanded")).toBe("true");
    expect(drawer.className).toContain("open");
    expect(document.activeElement).toBe(within(drawer).getByRole("button", { name: "+ New chat" }));
    await user.keyboard("{Escape}");
    expect(drawer.className).not.toContain("open");
    expect(document.activeElement).toBe(toggle);
    await user.click(toggle);
    await user.click(within(drawer).getByRole("button", { name: "Close" }));
    expect(drawer.className).not.toContain("open");
    await user.click(toggle);
    await user.click(await within(drawer).findByRole("link", { name: "Older chat" }));
    expect(drawer.className).not.toContain("open");
  });

  it("announces the streamed answer politely for screen readers", async () => {
    base({
      "POST /conversations": () => json(201, { id: "c1", profile_id: "p1", model: "gpt-test", title: null }),
      "POST /conversations/c1/messages": () =>
        sse(['event: delta\ndata: {"event":"delta","text":"Twice a day. "}\n\n', 'event: done\ndata: {"event":"done","finish_reason":"stop","message":{"id":"m2"}}\n\n'], 100),
      "GET /conversations/c1": () => json(200, { id: "c1", profile_id: "p1", model: "gpt-test", messages: [USER, ANSWER] }),
    });
    renderChat();
    const user = userEvent.setup();
    const region = screen.getByTestId("announcer");
    expect(region.getAttribute("aria-live")).toBe("polite");
    const heard: string[] = [];
    new MutationObserver(() => heard.push(region.textContent ?? "")).observe(region, { childList: true, subtree: true, characterData: true });
    await user.type(screen.getByLabelText("Message"), "How often?{Enter}");
    await vi.waitFor(() => expect(heard.at(-1)).toMatch(/Answer complete\.$/), { timeout: 10_000 });
    // Each thing said once: the sentence as it streamed, then the end.
    expect(heard.join(" ").replace(/\s+/g, " ")).toBe("Twice a day. Answer complete.");
  });
});
