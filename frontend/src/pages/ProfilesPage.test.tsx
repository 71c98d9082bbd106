import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { Profile } from "../api/models";
import { installFetch, json, problem } from "../test/fakeFetch";
import { renderRoutes } from "../test/render";
import { signedInEachTest } from "../test/session";
import ProfilesPage from "./ProfilesPage";

const DOCS = {
  items: [
    { id: "i1", name: "tone.md", kind: "instructions", status: "ready" },
    { id: "i2", name: "format.md", kind: "instructions", status: "ready" },
    { id: "d1", name: "papers.md", kind: "dataset", status: "ready" },
  ],
};

function renderAt(path: string) {
  return renderRoutes(path, { "/app/profiles/:profileId?": <ProfilesPage /> });
}

signedInEachTest();

describe("ProfilesPage", () => {
  it("creates a profile with ordered instructions, datasets and defaults", async () => {
    const profiles: Profile[] = [];
    const { calls } = installFetch({
      "GET /profiles": () => json(200, { items: profiles }),
      "GET /documents": () => json(200, DOCS),
      "GET /models": () => json(200, { items: [{ id: "claude-test" }] }),
      "GET /users/me/preferences": () => json(200, { default_profile: null, default_model: null, theme: "system" }),
      "POST /profiles": ({ body }) => {
        const p = { id: "p1", ...(body as object), created_at: "", updated_at: "", version: 1 } as Profile;
        profiles.push(p);
        return json(201, p);
      },
    });
    renderAt("/app/profiles");
    const user = userEvent.setup();
    await screen.findByRole("option", { name: "tone.md" });
    await user.type(screen.getByLabelText("Name"), "Lab");
    await user.selectOptions(screen.getByLabelText("Add instructions"), "tone.md");
    await user.selectOptions(screen.getByLabelText("Add instructions"), "format.md");
    await user.click(screen.getByRole("button", { name: "Move format.md up" }));
    await user.click(screen.getByRole("checkbox", { name: /papers\.md/ }));
    await user.selectOptions(screen.getByLabelText("Default model"), "claude-test");
    await user.selectOptions(screen.getByLabelText("Temperature"), "custom");
    await user.type(screen.getByLabelText("Custom temperature"), "0.3");
    await user.click(screen.getByRole("button", { name: "Create profile" }));
    await screen.findByText(/Profile “Lab” created/);
    const sent = calls.find((c) => c.method === "POST" && c.path === "/profiles")!.body;
    expect(sent).toEqual({
      name: "Lab",
      description: "",
      instruction_ids: ["i2", "i1"],
      dataset_ids: ["d1"],
      folders: [],
      parent_ids: [],
      default_model: "claude-test",
      temperature_preset: "custom",
      temperature: 0.3,
      max_output_tokens: null,
    });
  });

  it("tells same-named datasets of different folders apart in the picker", async () => {
    installFetch({
      "GET /profiles": () => json(200, { items: [] }),
      "GET /documents": () =>
        json(200, {
          items: [
            { id: "a", name: "README.md", folder: "project/a", kind: "dataset", status: "ready" },
            { id: "b", name: "README.md", folder: "project/b", kind: "dataset", status: "ready" },
          ],
        }),
      "GET /models": () => json(200, { items: [] }),
      "GET /users/me/preferences": () => json(200, {}),
    });
    renderAt("/app/profiles/new");
    expect(await screen.findByRole("checkbox", { name: "project/a/README.md" })).toBeTruthy();
    expect(screen.getByRole("checkbox", { name: "project/b/README.md" })).toBeTruthy();
  });

  it("shows the field the server refused", async () => {
    installFetch({
      "GET /profiles": () => json(200, { items: [] }),
      "GET /documents": () => json(200, { items: [] }),
      "GET /models": () => json(200, { items: [] }),
      "GET /users/me/preferences": () => json(200, {}),
      "POST /profiles": () => json(422, { type: "urn:ragenie:problem:validation", title: "Unprocessable Entity", status: 422, detail: "a profile with this name exists", field: "name" }),
    });
    renderAt("/app/profiles/new");
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText("Name"), "Lab");
    await user.click(screen.getByRole("button", { name: "Create profile" }));
    expect((await screen.findByRole("alert")).textContent).toContain("name: a profile with this name exists");
  });

  it("says so when the documents cannot be loaded, and still renders the form", async () => {
    installFetch({
      "GET /profiles": () => json(200, { items: [] }),
      "GET /documents": () => problem(404, "no such resource"),
      "GET /models": () => json(200, { items: [] }),
      "GET /users/me/preferences": () => json(200, {}),
    });
    renderAt("/app/profiles");
    expect((await screen.findByRole("alert")).textContent).toContain("Documents: No such resource");
    expect(screen.getByLabelText("Name")).toBeTruthy();
  });

  it("edits a stored profile: fields shown, parents and order changed, a preset drops the custom temperature", async () => {
    const work: Profile = {
      id: "p1",
      name: "Work",
      description: "day job",
      instruction_ids: ["i1", "i2"],
      dataset_ids: ["d1"],
      parent_ids: [],
      default_model: null,
      temperature_preset: "custom",
      temperature: 0.9,
      max_output_tokens: 500,
      created_at: "2026-01-01T00:00:00Z",
      updated_at: "2026-01-01T00:00:00Z",
      version: 1,
    };
    const base = { id: "p0", name: "Base", instruction_ids: [], dataset_ids: [], parent_ids: [] } as unknown as Profile;
    const { calls } = installFetch({
      "GET /profiles": () => json(200, { items: [work, base] }),
      "GET /documents": () => json(200, DOCS),
      "GET /models": () => json(200, { items: [] }),
      "GET /users/me/preferences": () => json(200, {}),
      "PATCH /profiles/p1": ({ body }) => json(200, { ...work, ...(body as object) }),
    });
    renderAt("/app/profiles/p1");
    const user = userEvent.setup();
    expect(await screen.findByRole("heading", { name: "Edit “Work”" })).toBeTruthy();
    // The form fills from the stored profile once it is loaded.
    await waitFor(() => expect((screen.getByLabelText("Name") as HTMLInputElement).value).toBe("Work"));
    expect((screen.getByLabelText("Custom temperature") as HTMLInputElement).value).toBe("0.9");
    expect(screen.getByRole("button", { name: "Move tone.md up" })).toHaveProperty("disabled", true);
    expect(screen.getByRole("button", { name: "Move format.md down" })).toHaveProperty("disabled", true);
    await user.click(screen.getByRole("button", { name: "Move tone.md down" }));
    await user.click(screen.getByRole("button", { name: "Remove format.md" }));
    await user.click(screen.getByRole("checkbox", { name: "Base" }));
    await user.click(screen.getByRole("checkbox", { name: /papers\.md/ }));
    await user.selectOptions(screen.getByLabelText("Temperature"), "precise");
    expect(screen.queryByLabelText("Custom temperature")).toBeNull();
    await user.clear(screen.getByLabelText("Max output tokens"));
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(await screen.findByText("Saved.")).toBeTruthy();
    const sent = calls.find((c) => c.method === "PATCH")!.body as Record<string, unknown>;
    expect(sent).toMatchObject({
      name: "Work",
      description: "day job",
      instruction_ids: ["i1"],
      dataset_ids: [],
      parent_ids: ["p0"],
      temperature_preset: "precise",
      max_output_tokens: null,
    });
    expect("temperature" in sent).toBe(false);
  });

  it("makes a profile the default, keeping the other preferences", async () => {
    let prefs = { default_profile: null as string | null, default_model: "gpt-test", theme: "dark" };
    const { calls } = installFetch({
      "GET /profiles": () => json(200, { items: [{ id: "p1", name: "Work", instruction_ids: [], dataset_ids: [], parent_ids: [] }] }),
      "GET /documents": () => json(200, { items: [] }),
      "GET /models": () => json(200, { items: [] }),
      "GET /users/me/preferences": () => json(200, prefs),
      "PUT /users/me/preferences": ({ body }) => {
        prefs = body as typeof prefs;
        return json(200, prefs);
      },
    });
    renderAt("/app/profiles/p1");
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Make default" }));
    expect(await screen.findByText("This is now your default profile.")).toBeTruthy();
    expect(calls.find((c) => c.method === "PUT")!.body).toEqual({ default_profile: "p1", default_model: "gpt-test", theme: "dark" });
    expect(screen.getByRole("button", { name: "Make default" })).toHaveProperty("disabled", true);
    expect(screen.getByRole("link", { name: /Work/ }).textContent).toContain("default");
  });

  it("deletes a profile after confirmation and goes back to a new one", async () => {
    let items = [{ id: "p1", name: "Work", instruction_ids: [], dataset_ids: [], parent_ids: [] }];
    const { calls } = installFetch({
      "GET /profiles": () => json(200, { items }),
      "GET /documents": () => json(200, { items: [] }),
      "GET /models": () => json(200, { items: [] }),
      "GET /users/me/preferences": () => json(200, {}),
      "DELETE /profiles/p1": () => {
        items = [];
        return new Response(null, { status: 204 });
      },
    });
    const confirm = vi.fn(() => false);
    vi.stubGlobal("confirm", confirm);
    renderAt("/app/profiles/p1");
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Delete" }));
    expect(calls.some((c) => c.method === "DELETE")).toBe(false);
    confirm.mockReturnValue(true);
    await user.click(screen.getByRole("button", { name: "Delete" }));
    expect(await screen.findByRole("heading", { name: "New profile" })).toBeTruthy();
    expect(calls.filter((c) => c.method === "DELETE").map((c) => c.path)).toEqual(["/profiles/p1"]);
    expect(screen.queryByRole("link", { name: "Work" })).toBeNull();
  });

  it("says so when the profile in the address does not exist", async () => {
    installFetch({
      "GET /profiles": () => json(200, { items: [] }),
      "GET /documents": () => json(200, { items: [] }),
      "GET /models": () => json(200, { items: [] }),
      "GET /users/me/preferences": () => json(200, {}),
    });
    renderAt("/app/profiles/gone");
    expect(await screen.findByText("This profile does not exist.")).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Delete" })).toBeNull();
  });

  it("the document picker pages through every document", async () => {
    installFetch({
      "GET /profiles": () => json(200, { items: [] }),
      "GET /documents": ({ url }) =>
        url.searchParams.get("cursor") === "next"
          ? json(200, { items: [{ id: "d9", name: "late.md", kind: "dataset", status: "ready" }], next_cursor: null })
          : json(200, { ...DOCS, next_cursor: "next" }),
      "GET /models": () => json(200, { items: [{ id: "claude-test" }] }),
      "GET /users/me/preferences": () => json(200, { default_profile: null, default_model: null, theme: "system" }),
    });
    renderAt("/app/profiles");
    const user = userEvent.setup();
    await screen.findByRole("checkbox", { name: /papers\.md/ });
    expect(screen.queryByRole("checkbox", { name: /late\.md/ })).toBeNull();
    await user.click(screen.getByRole("button", { name: "Load more documents" }));
    await screen.findByRole("checkbox", { name: /late\.md/ });
    expect(screen.queryByRole("button", { name: "Load more documents" })).toBeNull();
  });
});

