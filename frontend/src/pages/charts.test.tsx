import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { BarChart, niceCeil } from "./BarChart";
import { fillDays } from "./UsagePage";

describe("usage chart", () => {
  it("rounds the axis up to a readable number", () => {
    expect(niceCeil(0)).toBe(0);
    expect(niceCeil(7)).toBe(10);
    expect(niceCeil(0.0123)).toBeCloseTo(0.02);
    expect(niceCeil(0.021)).toBeCloseTo(0.025);
    expect(niceCeil(180)).toBe(200);
  });

  it("sums each day's models and fills quiet days with nothing, one bar per day", () => {
    const row = (model: string, cost_usd: number) => ({ day: "2026-01-31", model, kind: "chat" as const, messages: 1, estimated_messages: 0, unpriced_messages: 0, input_tokens: 10, output_tokens: 5, cost_usd });
    const days = fillDays("2026-01-30", "2026-02-02", [row("a", 1), row("b", 0.5)]);
    expect(days.map(([d, r]) => [d, r?.cost_usd])).toEqual([
      ["2026-01-30", undefined],
      ["2026-01-31", 1.5],
      ["2026-02-01", undefined],
      ["2026-02-02", undefined],
    ]);
  });

  it("draws one bar per value with heights in proportion", () => {
    render(<BarChart title="Cost per day" bars={[{ label: "a", value: 1 }, { label: "b", value: 2 }]} format={String} />);
    const bars = screen.getByRole("img", { name: "Cost per day" }).querySelectorAll("rect.bar");
    expect(bars).toHaveLength(2);
    const h = [...bars].map((b) => Number(b.getAttribute("height")));
    expect(h[1]).toBeCloseTo(2 * h[0]);
  });

  it("draws a single zero axis line when every value is zero", () => {
    render(<BarChart title="Tokens per day" bars={[{ label: "a", value: 0 }, { label: "b", value: 0 }]} format={String} />);
    const chart = screen.getByRole("img", { name: "Tokens per day" });
    expect(chart.querySelectorAll("line.axis")).toHaveLength(1);
    expect([...chart.querySelectorAll("rect.bar")].map((b) => b.getAttribute("height"))).toEqual(["0", "0"]);
  });
});
