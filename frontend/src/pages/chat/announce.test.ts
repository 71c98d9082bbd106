import { act, renderHook } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { nextAnnouncement, speakable, useAnnouncement } from "./announce";
import type { Pending } from "./useChatStream";

describe("nextAnnouncement", () => {
  it("says finished sentences only while streaming, then the rest when done", () => {
    expect(nextAnnouncement("Zebrafish are fed", 0, false)).toBeNull();
    const first = nextAnnouncement("Zebrafish are fed twice a day. Larvae eat", 0, false)!;
    expect(first).toEqual({ say: "Zebrafish are fed twice a day.", spoken: 30 });
    const text = "Zebrafish are fed twice a day. Larvae eat paramecia. Water is warm";
    expect(nextAnnouncement(text, first.spoken, false)).toEqual({ say: "Larvae eat paramecia.", spoken: 52 });
    expect(nextAnnouncement(text, 52, true)).toEqual({ say: "Water is warm", spoken: text.length });
    expect(nextAnnouncement(text, text.length, false)).toBeNull();
  });

  it("speaks a long run without a sentence end up to its last whole word", () => {
    const words = Array.from({ length: 50 }, (_, i) => `word${i}`).join(" ");
    const next = nextAnnouncement(words, 0, false)!;
    expect(next.say.endsWith("word48")).toBe(true);
    expect(words.slice(next.spoken)).toBe("word49");
  });

  it("does not cut a number or a name at its dot", () => {
    expect(nextAnnouncement("Version 2.5 of node.js is", 0, false)).toBeNull();
  });

  it("speaks Markdown as words: no stars, hashes or fences; citations as sources", () => {
    expect(speakable("## Feeding\n**Twice** a day [1]. `code`")).toBe("Feeding Twice a day (source 1). code");
    expect(speakable("```rust\nfn main() {}\n```")).toBe("fn main() {}");
  });
});

function pending(p: Partial<Pending>): Pending {
  return { parentId: null, regenerate: false, text: "", done: false, ...p };
}

describe("useAnnouncement", () => {
  afterEach(() => vi.useRealTimers());

  it("announces a streaming answer sentence by sentence, at most every 1.5 s, and how it ended", () => {
    vi.useFakeTimers();
    const { result, rerender } = renderHook(({ p }) => useAnnouncement(p), { initialProps: { p: null as Pending | null } });
    expect(result.current).toBe("");
    rerender({ p: pending({ text: "First sentence. Sec" }) });
    act(() => vi.advanceTimersByTime(0));
    expect(result.current).toBe("First sentence.");
    rerender({ p: pending({ text: "First sentence. Second one. Thi" }) });
    act(() => vi.advanceTimersByTime(500));
    expect(result.current).toBe("First sentence."); // not yet: 1.5 s between announcements
    act(() => vi.advanceTimersByTime(1000));
    expect(result.current).toBe("Second one.");
    rerender({ p: pending({ text: "First sentence. Second one. Third", done: true, finishReason: "stopped" }) });
    act(() => vi.advanceTimersByTime(0));
    expect(result.current).toBe("Third Answer stopped.");
  });

  it("starts again for the next answer, and says a completed answer is complete", () => {
    vi.useFakeTimers();
    const { result, rerender } = renderHook(({ p }) => useAnnouncement(p), {
      initialProps: { p: pending({ text: "A long first answer.", done: true }) as Pending | null },
    });
    act(() => vi.advanceTimersByTime(0));
    expect(result.current).toBe("A long first answer. Answer complete.");
    rerender({ p: null });
    rerender({ p: pending({ text: "Short.", done: true, finishReason: "length" }) });
    act(() => vi.advanceTimersByTime(0));
    expect(result.current).toBe("Short. Answer cut off at the length limit.");
  });
});
