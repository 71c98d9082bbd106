import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter, Route, Routes } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api } from "../../api/client";
import type { Message } from "../../api/models";
import { installFetch, json, problem, sse, type Handler } from "../../test/fakeFetch";
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
  return render(
    <MemoryRouter initialEntries={[path]}>
      <Routes>
        <Route path="/app/chat/:conversationId?" element={<ChatPage />} />
      </Routes>
    </MemoryRouter>,
  );
}

beforeEach(() => api.setTokens({ access_token: "a", refresh_token: "r" }));
afterEach(() => {
  vi.unstubAllGlobals();
  api.setTokens(null);
});

describe("ChatPage", () => {
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

  it("keeps the typed message when the server refuses it, and says why", async () => {
    base({
      "GET /conversations/c1": () => json(200, { id: "c1", profile_id: "p1", model: "gpt-test", messages: [] }),
      "POST /conversations/c1/messages": () => problem(402, "the monthly budget of this profile is spent"),
    });
    renderChat("/app/chat/c1");
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Message"), "One more question{Enter}");
    expect((await screen.findByText("The monthly budget of this profile is spent")).closest("[role=alert]")).toBeTruthy();
    await vi.waitFor(() => expect((screen.getByLabelText("Message") as HTMLTextAreaElement).value).toBe("One more question"));
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
      "GET /models": () =>
        json(200, {
          default_model: "gpt-test",
          items: [
            { id: "gpt-test", provider: "openai", context_window: 128000 },
            { id: "claude-test", provider: "anthropic", context_window: 200000 },
          ],
        }),
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
});
