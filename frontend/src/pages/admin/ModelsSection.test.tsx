import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { AdminModel } from "../../api/models";
import { installFetch, json } from "../../test/fakeFetch";
import { signedInEachTest } from "../../test/session";
import { ModelsSection } from "./ModelsSection";

signedInEachTest();
afterEach(() => {
  vi.restoreAllMocks();
});

const GPT: AdminModel = {
  id: "gpt-test",
  display_name: "GPT Test",
  provider: "openai",
  source: "catalog",
  enabled: true,
  available: true,
  context_window: 128000,
  max_output_tokens: 8192,
  input_price: 2.5,
  output_price: 10,
  price_set_by_admin: false,
};

describe("ModelsSection", () => {
  it("lists models, disables one, adds a model of the compatible server and removes it", async () => {
    let models = [{ ...GPT }];
    const { calls } = installFetch({
      "GET /admin/models": () => json(200, { items: models, next_cursor: null }),
      "PATCH /admin/models/gpt-test": ({ body }) => {
        models = models.map((m) => (m.id === "gpt-test" ? { ...m, ...(body as object) } : m));
        return json(200, models[0]);
      },
      "POST /admin/models": ({ body }) => {
        const b = body as { id: string; provider: string };
        const added: AdminModel = { ...GPT, id: b.id, display_name: b.id, provider: b.provider, source: "added", input_price: null, output_price: null };
        models = [...models, added];
        return json(201, added);
      },
      "DELETE /admin/models/llama3.1%3A8b": () => {
        models = models.filter((m) => m.id !== "llama3.1:8b");
        return new Response(null, { status: 204 });
      },
    });
    render(<ModelsSection />);
    const user = userEvent.setup();
    const row = (await screen.findByRole("cell", { name: /^GPT Test/ })).closest("tr")!;
    expect(within(row).getByText("$2.50/M in · $10.00/M out")).toBeTruthy();
    await user.click(within(row).getByRole("button", { name: "Disable gpt-test" }));
    await screen.findByText("GPT Test: disabled.");
    expect(calls.find((c) => c.method === "PATCH")!.body).toEqual({ enabled: false });
    await screen.findByRole("button", { name: "Enable gpt-test" });

    await user.type(screen.getByLabelText("Model id"), "llama3.1:8b");
    await user.type(screen.getByLabelText("Context window (tokens)"), "8192");
    await user.click(screen.getByRole("button", { name: "Add model" }));
    await screen.findByText("llama3.1:8b added.");
    expect(calls.find((c) => c.method === "POST")!.body).toEqual({ id: "llama3.1:8b", provider: "openai_compatible", context_window: 8192 });
    const added = (await screen.findByRole("cell", { name: /^llama3\.1:8b/ })).closest("tr")!;
    expect(within(added).getByText("unknown")).toBeTruthy();

    vi.spyOn(window, "confirm").mockReturnValue(true);
    await user.click(within(added).getByRole("button", { name: "Remove llama3.1:8b" }));
    await screen.findByText("llama3.1:8b: removed.");
    await waitFor(() => expect(screen.queryByRole("cell", { name: /^llama3\.1:8b/ })).toBeNull());
  });

  it("sets the prices of a model, refuses one price alone, and clears them", async () => {
    let models = [{ ...GPT, id: "llama", display_name: "llama", source: "added" as const, input_price: null, output_price: null }];
    const { calls } = installFetch({
      "GET /admin/models": () => json(200, { items: models, next_cursor: null }),
      "PATCH /admin/models/llama": ({ body }) => {
        models = models.map((m) => ({ ...m, ...(body as object) }));
        return json(200, models[0]);
      },
    });
    render(<ModelsSection />);
    const user = userEvent.setup();
    const row = (await screen.findByRole("cell", { name: /^llama/ })).closest("tr")!;
    await user.click(within(row).getByRole("button", { name: "Prices llama" }));
    const form = within(row).getByRole("form", { name: "Prices of llama" });
    await user.type(within(form).getByLabelText("In"), "0.5");
    await user.click(within(form).getByRole("button", { name: "Save" }));
    await screen.findByText(/Set both prices/);
    expect(calls.some((c) => c.method === "PATCH")).toBe(false);
    await user.type(within(form).getByLabelText("Out"), "1.5");
    await user.click(within(form).getByRole("button", { name: "Save" }));
    await screen.findByText("llama: prices saved.");
    expect(calls.find((c) => c.method === "PATCH")!.body).toEqual({ input_price: 0.5, output_price: 1.5 });
    expect(within(row).getByText("$0.5/M in · $1.50/M out")).toBeTruthy();

    await user.click(within(row).getByRole("button", { name: "Prices llama" }));
    const again = within(row).getByRole("form", { name: "Prices of llama" });
    await user.clear(within(again).getByLabelText("In"));
    await user.clear(within(again).getByLabelText("Out"));
    await user.click(within(again).getByRole("button", { name: "Save" }));
    await screen.findByText("llama: price cleared.");
    expect(calls.filter((c) => c.method === "PATCH").at(-1)!.body).toEqual({ input_price: null, output_price: null });
  });
});
