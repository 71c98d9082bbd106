// The conversation's title, edited in place: activate it (click, tap, Enter), type, then Enter
// or leaving the field saves and Escape cancels.

import { useEffect, useRef, useState } from "react";

interface Props {
  /** The stored title; null or empty for a conversation without one yet. */
  title: string | null | undefined;
  /** Saves a new title; a rejection keeps the field open with the text typed. */
  onRename: (title: string) => Promise<void>;
}

export function ConversationTitle({ title, onRename }: Props) {
  const [draft, setDraft] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const inputRef = useRef<HTMLInputElement>(null);
  const buttonRef = useRef<HTMLButtonElement>(null);
  const shown = title || "Untitled";
  const editing = draft !== null;

  useEffect(() => {
    if (editing) inputRef.current?.select();
  }, [editing]);

  async function save() {
    if (draft === null || saving) return;
    const next = draft.trim();
    if (!next || next === (title ?? "")) {
      setDraft(null);
      return;
    }
    setSaving(true);
    try {
      await onRename(next);
      setDraft(null);
      window.setTimeout(() => buttonRef.current?.focus());
    } catch {
      // the page shows the error; the text stays for another try
    } finally {
      setSaving(false);
    }
  }

  if (draft !== null) {
    return (
      <input
        ref={inputRef}
        className="title-input"
        aria-label="Conversation title"
        value={draft}
        maxLength={200}
        disabled={saving}
        onChange={(e) => setDraft(e.target.value)}
        onBlur={() => void save()}
        onKeyDown={(e) => {
          if (e.key === "Enter") {
            e.preventDefault();
            void save();
          } else if (e.key === "Escape") {
            e.preventDefault();
            e.stopPropagation();
            setDraft(null);
            window.setTimeout(() => buttonRef.current?.focus());
          }
        }}
      />
    );
  }
  return (
    <button ref={buttonRef} type="button" className="title-button" title="Rename" onClick={() => setDraft(title ?? "")}>
      {shown}
      <span className="visually-hidden"> (rename)</span>
      <span aria-hidden="true" className="pencil">
        ✎
      </span>
    </button>
  );
}
