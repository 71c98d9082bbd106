import { act, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../api/problem";
import { ErrorAlert } from "./ErrorAlert";

afterEach(() => {
  vi.useRealTimers();
});

describe("LimitNotice through ErrorAlert", () => {
  it("counts down to the moment a rate limit lifts, then says to try again", () => {
    vi.useFakeTimers({ now: new Date("2026-12-03T16:00:00Z") });
    render(<ErrorAlert error={new ApiError(429, { detail: "at most 3 answers at once; wait for one to finish" }, 3)} />);
    const alert = screen.getByRole("alert");
    expect(alert.textContent).toContain("Too many requests for now.");
    expect(alert.textContent).toContain("At most 3 answers at once; wait for one to finish.");
    expect(screen.getByTestId("retry-countdown").textContent).toBe("3 s");
    // Screen readers get the time once; the ticking number is hidden from them.
    expect(screen.getByTestId("retry-countdown").getAttribute("aria-hidden")).toBe("true");
    act(() => void vi.advanceTimersByTime(1000));
    expect(screen.getByTestId("retry-countdown").textContent).toBe("2 s");
    act(() => void vi.advanceTimersByTime(2000));
    expect(screen.queryByTestId("retry-countdown")).toBeNull();
    expect(alert.textContent).toContain("You can try again now.");
    // Not a generic error: no "HTTP 429".
    expect(alert.textContent).not.toContain("HTTP");
  });

  it("names the day a spent monthly quota renews", () => {
    vi.useFakeTimers({ now: new Date("2026-12-03T16:00:00Z") });
    render(<ErrorAlert error={new ApiError(402, { detail: "this month's quota of $5.00 set by your administrator is used up" })} context="Chat" />);
    const alert = screen.getByRole("alert");
    expect(alert.textContent).toContain("Chat: Monthly spending limit reached.");
    expect(alert.textContent).toContain("This month's quota of $5.00 set by your administrator is used up.");
    const day = new Date("2027-01-01T00:00:00Z").toLocaleDateString(undefined, { dateStyle: "long", timeZone: "UTC" });
    expect(alert.textContent).toContain(`It renews on ${day}`);
  });

  it("shows other errors as before", () => {
    render(<ErrorAlert error={new ApiError(500, { detail: "boom", instance: "urn:ragenie:request:r1" })} />);
    expect(screen.getByRole("alert").textContent).toContain("Boom");
    expect(screen.queryByTestId("limit-notice")).toBeNull();
  });
});
