import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router";
import { describe, expect, it, vi } from "vitest";
import { installFetch, json } from "../test/fakeFetch";
import { signedInEachTest } from "../test/session";
import UsagePage from "./UsagePage";

signedInEachTest();

const today = new Date().toISOString().slice(0, 10);

describe("UsagePage", () => {
  it("charts cost per day, lists models, and saves a monthly budget", async () => {
    const { calls } = installFetch({
      "GET /usage": ({ url }) =>
        json(200, {
          from: url.searchParams.get("from"),
          to: url.searchParams.get("to"),
          days: [
            { day: today, model: "gpt-test", messages: 2, input_tokens: 1000, output_tokens: 200, cost_usd: 0.5 },
            { day: today, model: "claude-test", messages: 1, input_tokens: 500, output_tokens: 100, cost_usd: 0.25 },
            { day: today, model: "text-embedding-3-small", kind: "embedding", messages: 3, input_tokens: 5000, output_tokens: 0, cost_usd: 0.0001 },
          ],
          models: [
            { day: "", model: "gpt-test", messages: 2, input_tokens: 1000, output_tokens: 200, cost_usd: 0.5 },
            { day: "", model: "claude-test", messages: 1, input_tokens: 500, output_tokens: 100, cost_usd: 0.25 },
            { day: "", model: "text-embedding-3-small", kind: "embedding", messages: 3, input_tokens: 5000, output_tokens: 0, cost_usd: 0.0001 },
          ],
          total_cost_usd: 0.7501,
          total_input_tokens: 6500,
          total_output_tokens: 300,
          month_cost_usd: 0.75,
          budgets: { monthly_usd: 10 },
        }),
      "GET /usage/budget": () => json(200, { monthly_usd: 10 }),
      "PUT /usage/budget": ({ body }) => json(200, body),
    });
    render(<MemoryRouter><UsagePage /></MemoryRouter>);
    const user = userEvent.setup();
    const chart = await screen.findByRole("img", { name: /Cost per day/ });
    const bars = [...chart.querySelectorAll("rect.bar")];
    expect(bars).toHaveLength(30);
    // Today's two models make one bar, the tallest; the quiet days are flat.
    const heights = bars.map((b) => Number(b.getAttribute("height")));
    expect(heights.at(-1)).toBeGreaterThan(0);
    expect(heights.slice(0, -1).every((h) => h === 0)).toBe(true);
    expect(bars.at(-1)!.querySelector("title")!.textContent).toContain("$0.750");
    expect(screen.getByText(/this month \$0\.750 of a \$10\.00 budget/)).toBeTruthy();
    const row = screen.getByRole("cell", { name: "claude-test" }).closest("tr")!;
    expect(within(row).getAllByRole("cell").map((c) => c.textContent)).toEqual(["claude-test", "500", "100", "1", "$0.250"]);
    // The embedding model's row is tagged and counts calls; a note says what they are.
    const embedding = screen.getByRole("cell", { name: /^text-embedding-3-small/ }).closest("tr")!;
    expect(within(embedding).getAllByRole("cell").map((c) => c.textContent)).toEqual([
      "text-embedding-3-small embeddings",
      "5,000",
      "0",
      "3 calls",
      "$0.0001",
    ]);
    expect(screen.getByText(/passages are embedded when they are indexed/)).toBeTruthy();

    const input = await screen.findByLabelText("Monthly budget (USD)");
    await vi.waitFor(() => expect((input as HTMLInputElement).value).toBe("10"));
    await user.clear(input);
    await user.type(input, "25");
    await user.click(screen.getByRole("button", { name: "Save budget" }));
    await screen.findByText("Budget saved.");
    expect(calls.find((c) => c.method === "PUT")!.body).toEqual({ profiles: {}, monthly_usd: 25 });
    expect(calls.filter((c) => c.path === "/usage").length).toBeGreaterThanOrEqual(2);
  });
});
