import { describe, expect, it } from "vitest";
import { ApiError } from "../api/problem";
import { formatWait, limitOf, nextMonth } from "./limits";

const NOW = new Date("2026-12-03T16:00:00Z");

describe("limitOf", () => {
  it("reads a 429 with Retry-After as a rate limit with the moment to retry", () => {
    const limit = limitOf(new ApiError(429, { detail: "at most 60 answers a minute; retry in 42 seconds" }, 42), NOW);
    expect(limit).toEqual({
      kind: "rate",
      title: "Too many requests for now",
      detail: "at most 60 answers a minute; retry in 42 seconds",
      retryAt: new Date("2026-12-03T16:00:42Z"),
    });
    expect(limitOf(new ApiError(429, {}), NOW)?.retryAt).toBeUndefined();
  });

  it("reads a 402 as a monthly limit that renews on the first of next month (UTC)", () => {
    const limit = limitOf(new ApiError(402, { detail: "this month's quota of $5.00 set by your administrator is used up" }), NOW);
    expect(limit?.kind).toBe("quota");
    expect(limit?.retryAt?.toISOString()).toBe("2027-01-01T00:00:00.000Z");
    expect(nextMonth(new Date("2027-01-31T23:59:59Z")).toISOString()).toBe("2027-02-01T00:00:00.000Z");
  });

  it("leaves other errors alone", () => {
    expect(limitOf(new ApiError(403, { detail: "no" }), NOW)).toBeNull();
    expect(limitOf(new ApiError(500, {}), NOW)).toBeNull();
    expect(limitOf(new Error("boom"), NOW)).toBeNull();
  });

  it("formats a wait in seconds or minutes", () => {
    expect(formatWait(42)).toBe("42 s");
    expect(formatWait(0.2)).toBe("1 s");
    expect(formatWait(125)).toBe("2 min 05 s");
    expect(formatWait(-3)).toBe("0 s");
  });
});
