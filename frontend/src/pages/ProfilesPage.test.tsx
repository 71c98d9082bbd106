import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter, Route, Routes } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api } from "../api/client";
import type { Profile } from "../api/types";
import { installFetch, json, problem } from "../test/fakeFetch";
import ProfilesPage from "./ProfilesPage";

const DOCS = {
  items: [
    { id: "i1", name: "tone.md", kind: "instructions", status: "ready" },
    { id: "i2", name: "format.md", kind: "instructions", status: "ready" },
    { id: "d1", name: "papers.md", kind: "dataset", status: "ready" },
  ],
};

function renderAt(path: string) {
  return render(
    <MemoryRouter initialEntries={[path]}>
      <Routes>
        <Route path="/app/profiles/:profileId?" element={<ProfilesPage />} />
      </Routes>
    </MemoryRouter>,
  );
}

beforeEach(() => api.setTokens({ access_token: "a", refresh_token: "r" }));
afterEach(() => {
  vi.unstubAllGlobals();
  api.setTokens(null);
});

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
      parent_ids: [],
      default_model: "claude-test",
      temperature_preset: "custom",
      temperature: 0.3,
      max_output_tokens: null,
    });
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
});
