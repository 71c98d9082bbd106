// Streamed answers for screen readers: a polite live region that speaks the answer sentence by
// sentence as it arrives (never word by word, at most every 1.5 s), then the rest and how it
// ended. The visible answer is not itself a live region: it changes with every token.

import { useEffect, useRef, useState } from "react";
import type { Pending } from "./useChatStream";

const INTERVAL_MS = 1500;
/** Characters without a sentence end after which the words so far are spoken anyway. */
const LONG_RUN = 200;

/** Markdown punctuation a screen reader would spell out. */
export function speakable(text: string): string {
  return text
    .replace(/```[^\n]*\n?/g, " ")
    .replace(/[*_`#>|~]+/g, " ")
    .replace(/\[(\d{1,3})\](?![(:])/g, " (source $1)")
    .replace(/\s+/g, " ")
    .trim();
}

/**
 * What to say next: the finished sentences after `spoken` characters (all of the rest once the
 * answer is done; the whole words of a long run without a sentence end), and the new count of
 * characters spoken. Null when nothing new is complete.
 */
export function nextAnnouncement(text: string, spoken: number, done: boolean): { say: string; spoken: number } | null {
  const rest = text.slice(spoken);
  let end = done ? rest.length : -1;
  if (!done) {
    const boundary = /[.!?…:;](?=\s)|\n/g;
    for (let m = boundary.exec(rest); m; m = boundary.exec(rest)) end = m.index + m[0].length;
    // A long run without a sentence end (a list, code) is still spoken, up to its last word.
    if (end <= 0 && rest.length >= LONG_RUN) end = rest.lastIndexOf(" ") + 1;
  }
  if (end <= 0) return null;
  const say = speakable(rest.slice(0, end));
  return { say, spoken: spoken + end };
}

function ending(p: Pending): string {
  if (p.error) return ""; // the error itself is an alert, announced on its own
  if (p.finishReason === "stopped") return "Answer stopped.";
  if (p.finishReason === "length") return "Answer cut off at the length limit.";
  return "Answer complete.";
}

/** The text of the live region for the answer being streamed. */
export function useAnnouncement(pending: Pending | null): string {
  const [said, setSaid] = useState("");
  const spoken = useRef(0);
  const lastAt = useRef(0);
  /** The answer being spoken, and whether its end has been said. */
  const current = useRef<Pending | null>(null);
  const ended = useRef(false);
  const text = pending?.text ?? "";
  const done = pending?.done ?? false;
  const active = pending !== null;
  const end = done && pending ? ending(pending) : "";

  useEffect(() => {
    const finish = (p: Pending) => {
      const next = nextAnnouncement(p.text, spoken.current, true);
      spoken.current = p.text.length;
      ended.current = true;
      const say = [next?.say, ending(p)].filter(Boolean).join(" ");
      if (say) setSaid(say);
    };
    if (!active) {
      // The stored answer can replace the streamed one before its end was rendered: say it now.
      if (current.current && !ended.current) finish({ ...current.current, done: true });
      current.current = null;
      spoken.current = 0;
      ended.current = false;
      return;
    }
    current.current = pending;
    if (text.length < spoken.current) {
      spoken.current = 0; // a new answer
      ended.current = false;
    }
    if (done) {
      if (!ended.current) finish(pending);
      return;
    }
    const timer = window.setTimeout(() => {
      const next = nextAnnouncement(text, spoken.current, false);
      if (!next) return;
      spoken.current = next.spoken;
      lastAt.current = Date.now();
      if (next.say) setSaid(next.say);
    }, Math.max(0, lastAt.current + INTERVAL_MS - Date.now()));
    return () => window.clearTimeout(timer);
  }, [active, text, done, end]); // eslint-disable-line react-hooks/exhaustive-deps -- `pending` is read for its latest state

  return said;
}
