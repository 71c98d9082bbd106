import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AccountProvider } from "../../account";
import type { AdminModel, AdminUser, Invite, OperatorSettings } from "../../api/models";
import { installFetch, json, problem } from "../../test/fakeFetch";
import { signedInEachTest } from "../../test/session";
import AdminPage from "./AdminPage";
import { byModel } from "./AdminUsageSection";

signedInEachTest();
afterEach(() => {
  vi.restoreAllMocks();
});

const month = (spent: number) => ({ spent_usd: spent, committed_usd: spent });
const ADMIN: AdminUser = { id: "u1", email: "boss@example.com", role: "admin", status: "active", created_at: "2026-12-01T09:00:00Z", month: month(1.5), monthly_quota_usd: null };
const PENDING: AdminUser = { id: "u2", email: "newbie@example.com", role: "user", status: "pending", created_at: "2026-12-02T09:00:00Z", month: month(0), monthly_quota_usd: null };
const ACTIVE: AdminUser = { id: "u3", email: "ada@example.com", role: "user", status: "active", created_at: "2026-12-02T10:00:00Z", month: month(0.25), monthly_quota_usd: 5 };

/** A small admin API over an in-memory list, recording calls. */
const MODEL_BASE = { provider: "openai", source: "catalog", available: true, context_window: 128000, max_output_tokens: 8192, input_price: 1, output_price: 2, price_set_by_admin: false } as const;
const MODELS: AdminModel[] = [
  { ...MODEL_BASE, id: "gpt-a", display_name: "GPT A", enabled: true },
  { ...MODEL_BASE, id: "gpt-b", display_name: "GPT B", enabled: true },
  { ...MODEL_BASE, id: "gpt-old", display_name: "GPT Old", enabled: false },
];

function server() {
  let users = [ADMIN, PENDING, ACTIVE].map((u) => ({ ...u }));
  let settings: OperatorSettings = { registration: "open", default_monthly_quota_usd: null, requests_per_minute: 60, max_concurrent_answers: 3 };
  let invites: Invite[] = [];
  const fake = installFetch({
    "GET /auth/me": () => json(200, { id: "u1", email: "boss@example.com", role: "admin", status: "active", created_at: ADMIN.created_at }),
    "GET /admin/users": ({ url }) => {
      const q = url.searchParams.get("q") ?? "";
      const status = url.searchParams.get("status");
      return json(200, { items: users.filter((u) => u.email.includes(q) && (!status || u.status === status)), next_cursor: null });
    },
    "PATCH /admin/users/u2": ({ body }) => {
      users = users.map((u) => (u.id === "u2" ? { ...u, ...(body as object) } : u));
      return json(200, users.find((u) => u.id === "u2"));
    },
    "PATCH /admin/users/u3": ({ body }) => {
      users = users.map((u) => (u.id === "u3" ? { ...u, ...(body as object) } : u));
      return json(200, users.find((u) => u.id === "u3"));
    },
    "DELETE /admin/users/u3": () => {
      users = users.filter((u) => u.id !== "u3");
      return json(200, { removed: { documents: 2, conversations: 3, files: 4, document_versions: 2, messages: 6, profiles: 1, usage_records: 2, api_keys: 1, sessions: 1, items: 20, file_bytes: 100 } });
    },
    "POST /admin/users/u3/password-reset": () => json(201, { link: "http://127.0.0.1:8080/reset-password#token=u3.secret", expires_at: Math.floor(Date.now() / 1000) + 1800 }),
    "GET /admin/settings": () => json(200, settings),
    "GET /admin/models": () => json(200, { items: MODELS, next_cursor: null }),
    "PUT /admin/settings": ({ body }) => {
      settings = body as OperatorSettings;
      return json(200, settings);
    },
    "GET /admin/invites": () => json(200, { items: invites, next_cursor: null }),
    "POST /admin/invites": ({ body }) => {
      const hours = (body as { expires_in_hours: number }).expires_in_hours;
      const invite = { id: "abcdef0123456789", created_by: "u1", created_at: "2026-12-03T10:00:00Z", expires_at: 1_800_000_000 + hours };
      invites = [invite];
      return json(201, { ...invite, token: "TOKEN123" });
    },
    "DELETE /admin/invites/abcdef0123456789": () => {
      invites = [];
      return new Response(null, { status: 204 });
    },
    "GET /admin/usage": ({ url }) =>
      json(200, {
        from: url.searchParams.get("from"),
        to: url.searchParams.get("to"),
        days: [
          { day: "2026-12-01", model: "gpt-test", answers: 2, unpriced_answers: 0, input_tokens: 1000, output_tokens: 200, cost_usd: 0.5 },
          { day: "2026-12-02", model: "gpt-test", answers: 1, unpriced_answers: 0, input_tokens: 500, output_tokens: 100, cost_usd: 0.25 },
          { day: "2026-12-02", model: "local-llama", answers: 4, unpriced_answers: 4, input_tokens: 800, output_tokens: 400, cost_usd: 0 },
        ],
        total_cost_usd: 0.75,
        total_answers: 7,
      }),
  });
  return { ...fake, settings: () => settings };
}

function renderAdmin() {
  return render(
    <MemoryRouter>
      <AccountProvider>
        <AdminPage />
      </AccountProvider>
    </MemoryRouter>,
  );
}

const row = (email: string) => screen.getByRole("cell", { name: new RegExp(`^${email}`) }).closest("tr")!;

describe("AdminPage: users", () => {
  it("lists accounts with this month's spending and what each can have done", async () => {
    server();
    renderAdmin();
    await screen.findByRole("cell", { name: "newbie@example.com" });
    expect(within(row("ada@example.com")).getAllByRole("cell").map((c) => c.textContent)).toEqual([
      "ada@example.com",
      "user",
      "active",
      "$0.250",
      "$5.00",
      "Suspend ada@example.comManage ada@example.com",
    ]);
    // The admin's own row offers no suspension.
    await waitFor(() => expect(within(row("boss@example.com")).queryByRole("button", { name: /Suspend/ })).toBeNull());
    expect(row("boss@example.com").textContent).toContain("(you)");
  });

  it("filters by status and searches by email", async () => {
    const { calls } = server();
    renderAdmin();
    const user = userEvent.setup();
    await screen.findByRole("cell", { name: "newbie@example.com" });
    await user.selectOptions(screen.getByLabelText("Status"), "pending");
    await waitFor(() => expect(screen.queryByRole("cell", { name: "ada@example.com" })).toBeNull());
    expect(screen.getByRole("cell", { name: "newbie@example.com" })).toBeTruthy();
    await user.selectOptions(screen.getByLabelText("Status"), "");
    await user.type(screen.getByLabelText("Email contains"), "ada");
    await user.click(screen.getByRole("button", { name: "Search" }));
    await waitFor(() => expect(screen.queryByRole("cell", { name: "newbie@example.com" })).toBeNull());
    expect(calls.some((c) => c.path === "/admin/users")).toBe(true);
  });

  it("approves a waiting account and suspends and reactivates another", async () => {
    const { calls } = server();
    renderAdmin();
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Approve newbie@example.com" }));
    await screen.findByText("newbie@example.com: approved.");
    expect(within(row("newbie@example.com")).getByText("active")).toBeTruthy();
    expect(calls.find((c) => c.method === "PATCH" && c.path === "/admin/users/u2")!.body).toEqual({ status: "active" });

    await user.click(screen.getByRole("button", { name: "Suspend ada@example.com" }));
    await screen.findByText("ada@example.com: suspended.");
    expect(within(row("ada@example.com")).getByText("suspended")).toBeTruthy();
    await user.click(screen.getByRole("button", { name: "Reactivate ada@example.com" }));
    await screen.findByText("ada@example.com: reactivated.");
    expect(calls.filter((c) => c.method === "PATCH" && c.path === "/admin/users/u3").map((c) => c.body)).toEqual([{ status: "suspended" }, { status: "active" }]);
  });

  it("restricts a user to the ticked models and lifts the restriction again", async () => {
    const { calls } = server();
    renderAdmin();
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Manage ada@example.com" }));
    const panel = screen.getByRole("region", { name: "Manage ada@example.com" });
    expect(within(panel).getByRole("radio", { name: "Every enabled model" })).toHaveProperty("checked", true);
    await waitFor(() => expect(calls.some((c) => c.path === "/admin/models")).toBe(true));
    await user.click(within(panel).getByRole("radio", { name: "Only the models ticked below" }));
    // Starts from what the user can use today: every enabled model.
    const picks = within(panel).getByRole("list", { name: "Allowed models" });
    expect(within(picks).getByRole("checkbox", { name: "GPT A" })).toHaveProperty("checked", true);
    expect(within(picks).getByRole("checkbox", { name: /GPT Old/ })).toHaveProperty("checked", false);
    await user.click(within(picks).getByRole("checkbox", { name: "GPT B" }));
    await user.click(within(panel).getByRole("button", { name: "Save changes" }));
    await within(panel).findByText("Changes saved.");
    expect(calls.filter((c) => c.method === "PATCH").at(-1)!.body).toEqual({ allowed_models: ["gpt-a"] });

    // None ticked is refused here, not sent.
    await user.click(within(picks).getByRole("checkbox", { name: "GPT A" }));
    await user.click(within(panel).getByRole("button", { name: "Save changes" }));
    await within(panel).findByText(/at least one model/);
    expect(calls.filter((c) => c.method === "PATCH")).toHaveLength(1);

    await user.click(within(panel).getByRole("radio", { name: "Every enabled model" }));
    await user.click(within(panel).getByRole("button", { name: "Save changes" }));
    await waitFor(() => expect(calls.filter((c) => c.method === "PATCH").at(-1)!.body).toEqual({ allowed_models: null }));
  });

  it("changes the role and the quota, issues a reset link, and deletes only after confirmation", async () => {
    const { calls } = server();
    renderAdmin();
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Manage ada@example.com" }));
    const panel = screen.getByRole("region", { name: "Manage ada@example.com" });
    await user.selectOptions(within(panel).getByLabelText("Role"), "admin");
    const quota = within(panel).getByLabelText("Monthly quota (USD)");
    await user.clear(quota);
    await user.type(quota, "12.5");
    await user.click(within(panel).getByRole("button", { name: "Save changes" }));
    await within(panel).findByText("Changes saved.");
    expect(calls.find((c) => c.method === "PATCH")!.body).toEqual({ role: "admin", monthly_quota_usd: 12.5 });
    expect(within(row("ada@example.com")).getByText("$12.50")).toBeTruthy();
    // Emptied: back to the operator's default.
    await user.clear(quota);
    await user.click(within(panel).getByRole("button", { name: "Save changes" }));
    await waitFor(() => expect(calls.filter((c) => c.method === "PATCH").at(-1)!.body).toEqual({ monthly_quota_usd: null }));

    await user.click(within(panel).getByRole("button", { name: "Create a reset link" }));
    const link = (await within(panel).findByLabelText("Reset link")) as HTMLInputElement;
    expect(link.value).toBe("http://127.0.0.1:8080/reset-password#token=u3.secret");

    const confirm = vi.spyOn(window, "confirm").mockReturnValueOnce(false).mockReturnValueOnce(true);
    await user.click(within(panel).getByRole("button", { name: "Delete ada@example.com" }));
    expect(calls.some((c) => c.method === "DELETE")).toBe(false);
    await user.click(within(panel).getByRole("button", { name: "Delete ada@example.com" }));
    await screen.findByText("ada@example.com deleted: 2 documents, 3 conversations, 4 files.");
    expect(confirm).toHaveBeenCalledTimes(2);
    await waitFor(() => expect(screen.queryByRole("cell", { name: "ada@example.com" })).toBeNull());
  });

  it("shows the server's refusal", async () => {
    installFetch({
      "GET /auth/me": () => json(200, { id: "u1", email: "boss@example.com", role: "admin", status: "active", created_at: ADMIN.created_at }),
      "GET /admin/users": () => json(200, { items: [ACTIVE], next_cursor: null }),
      "PATCH /admin/users/u3": () => problem(409, "you cannot suspend or demote yourself; ask another admin"),
      "GET /admin/settings": () => json(200, { registration: "open", requests_per_minute: 60, max_concurrent_answers: 3 }),
      "GET /admin/invites": () => json(200, { items: [] }),
      "GET /admin/usage": () => json(200, { from: "", to: "", days: [], total_cost_usd: 0, total_answers: 0 }),
    });
    renderAdmin();
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Suspend ada@example.com" }));
    expect((await screen.findByText(/You cannot suspend or demote yourself/)).closest("[role=alert]")).toBeTruthy();
  });
});

describe("AdminPage: sign-up, invites and usage", () => {
  it("saves who may sign up and the per-user limits", async () => {
    const fake = server();
    renderAdmin();
    const user = userEvent.setup();
    await user.click(await screen.findByRole("radio", { name: /With approval/ }));
    await user.type(screen.getByLabelText("Default monthly quota per user (USD)"), "5");
    const perMinute = screen.getByLabelText("Answers per minute per user");
    await user.clear(perMinute);
    await user.type(perMinute, "20");
    await user.click(screen.getByRole("button", { name: "Save settings" }));
    await screen.findByText("Settings saved.");
    expect(fake.settings()).toEqual({ registration: "approval", default_monthly_quota_usd: 5, requests_per_minute: 20, max_concurrent_answers: 3 });
  });

  it("creates an invite with an expiry, shows its link once, and revokes it", async () => {
    const { calls } = server();
    renderAdmin();
    const user = userEvent.setup();
    await screen.findByText("No open invites.");
    await user.selectOptions(screen.getByLabelText("Valid for"), "168");
    await user.click(screen.getByRole("button", { name: "Create invite" }));
    const link = (await screen.findByLabelText("Invite link")) as HTMLInputElement;
    expect(link.value).toBe(`${window.location.origin}/register?invite=TOKEN123`);
    expect(calls.find((c) => c.method === "POST" && c.path === "/admin/invites")!.body).toEqual({ expires_in_hours: 168 });
    await screen.findByRole("button", { name: "Revoke invite abcdef01" });

    vi.spyOn(window, "confirm").mockReturnValue(true);
    await user.click(screen.getByRole("button", { name: "Revoke invite abcdef01" }));
    await screen.findByText("No open invites.");
    expect(screen.queryByLabelText("Invite link")).toBeNull();
    expect(calls.some((c) => c.method === "DELETE" && c.path === "/admin/invites/abcdef0123456789")).toBe(true);
  });

  it("totals usage by model and by day, with unpriced answers counted apart", async () => {
    server();
    renderAdmin();
    const total = await screen.findByTestId("admin-usage-total");
    expect(total.textContent).toBe("7 answers, $0.750 (and 4 answers of models without a known price, not counted)");
    const byModelTable = screen.getByRole("heading", { name: "By model" }).nextElementSibling!;
    const rows = within(byModelTable as HTMLElement).getAllByRole("row").slice(1);
    expect(rows.map((r) => [...r.querySelectorAll("td")].map((c) => c.textContent))).toEqual([
      ["gpt-test", "3", "1,500", "300", "$0.750"],
      ["local-llama", "4", "800", "400", "$0 + 4 unpriced"],
    ]);
    expect(byModel([]).length).toBe(0);
  });
});
