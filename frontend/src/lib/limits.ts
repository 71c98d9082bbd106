// The operator's limits as the app explains them: a spent monthly quota or budget (402) and a
// rate or concurrency limit (429 with Retry-After), each with when sending works again.

import { ApiError } from "../api/problem";

export interface Limit {
  kind: "quota" | "rate";
  title: string;
  /** The server's own words (which limit, how much). */
  detail: string;
  /** When to try again: Retry-After for a 429; the first day of next month (UTC) for a 402. */
  retryAt?: Date;
}

/** The first moment of the month after `now`, in UTC: when monthly quotas and budgets renew. */
export function nextMonth(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
}

/** The limit an error reports, or null for any other error. */
export function limitOf(e: unknown, now: Date = new Date()): Limit | null {
  if (!(e instanceof ApiError)) return null;
  const detail = (e.problem.detail ?? "").trim();
  if (e.status === 402) {
    return { kind: "quota", title: "Monthly spending limit reached", detail, retryAt: nextMonth(now) };
  }
  if (e.status === 429) {
    return {
      kind: "rate",
      title: "Too many requests for now",
      detail,
      retryAt: e.retryAfter !== undefined ? new Date(now.getTime() + e.retryAfter * 1000) : undefined,
    };
  }
  return null;
}

/** "42 s", "2 min 05 s". */
export function formatWait(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s} s`;
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
}
