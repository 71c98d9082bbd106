// Where the user types: Enter sends, Shift+Enter adds a line, Escape stops a running answer;
// documents to attach (dropped or chosen files, uploaded first, or existing ones) as chips;
// before sending, the token count by source and the estimated cost.

import { forwardRef, useEffect, useRef, useState, type DragEvent, type FormEvent, type KeyboardEvent } from "react";
import { chat } from "../../api/endpoints";
import { errorMessage, isAbort } from "../../api/problem";
import type { Estimate } from "../../api/models";
import { formatCost, formatTokens } from "../../lib/format";
import { AttachmentChips, DocumentPicker, uploadAttachments, type ComposerAttachment } from "./Attachments";

interface Props {
  value: string;
  onChange: (value: string) => void;
  onSend: () => void;
  onStop: () => void;
  streaming: boolean;
  disabled?: boolean;
  /** What the next message attaches. */
  attachments?: ComposerAttachment[];
  onAttachmentsChange?: (update: (current: ComposerAttachment[]) => ComposerAttachment[]) => void;
  estimateFor: { profile_id?: string; model?: string; conversation_id?: string; parent_id?: string | null };
}

const SOURCES = ["instructions", "datasets", "history", "prompt"] as const;

export const Composer = forwardRef<HTMLTextAreaElement, Props>(function Composer(
  { value, onChange, onSend, onStop, streaming, disabled, estimateFor, attachments = [], onAttachmentsChange },
  ref,
) {
  const [estimate, setEstimate] = useState<Estimate | null>(null);
  const [estimateError, setEstimateError] = useState<string | null>(null);
  const [over, setOver] = useState(false);
  const fileInput = useRef<HTMLInputElement>(null);
  const { profile_id, model, conversation_id, parent_id } = estimateFor;
  const attachedIds = attachments.flatMap((a) => (a.id ? [a.id] : []));
  const attachedKey = attachedIds.join(",");
  const uploading = attachments.some((a) => !a.id && !a.error);

  function attachFiles(files: File[]) {
    if (!onAttachmentsChange || !files.length) return;
    void uploadAttachments(
      files,
      (key, patch) => onAttachmentsChange((list) => list.map((a) => (a.key === key ? { ...a, ...patch } : a))),
      (items) => onAttachmentsChange((list) => [...list, ...items]),
    );
  }

  function drop(e: DragEvent) {
    if (!onAttachmentsChange || !e.dataTransfer?.files?.length) return;
    e.preventDefault();
    setOver(false);
    attachFiles(Array.from(e.dataTransfer.files));
  }

  useEffect(() => {
    if (!value.trim()) {
      setEstimate(null);
      setEstimateError(null);
      return;
    }
    const controller = new AbortController();
    const timer = window.setTimeout(async () => {
      try {
        const attached = attachedKey ? attachedKey.split(",") : undefined;
        const e = await chat.estimate({ profile_id, model, content: value, conversation_id, parent_id, attachments: attached }, controller.signal);
        setEstimate(e);
        setEstimateError(null);
      } catch (err) {
        if (!isAbort(err)) setEstimateError(errorMessage(err));
      }
    }, 400);
    return () => {
      window.clearTimeout(timer);
      controller.abort();
    };
  }, [value, profile_id, model, conversation_id, parent_id, attachedKey]);

  function keyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      if (!streaming && value.trim() && !disabled && !uploading) onSend();
    } else if (e.key === "Escape" && streaming) {
      e.preventDefault();
      onStop();
    }
  }

  function submit(e: FormEvent) {
    e.preventDefault();
    if (streaming) onStop();
    else if (value.trim() && !uploading) onSend();
  }

  const ctx = estimate?.context;
  const bySource: Record<(typeof SOURCES)[number], number | undefined> = {
    instructions: ctx?.instructions_tokens,
    datasets: ctx?.datasets_tokens,
    history: ctx?.history_tokens,
    prompt: ctx?.prompt_tokens,
  };
  const total = estimate?.total_input_tokens;
  const fits = estimate ? estimate.total_input_tokens + (estimate.reserved_output_tokens ?? 0) <= estimate.context_window : true;

  return (
    <div
      className={`composer${over ? " over" : ""}`}
      onDragOver={(e) => {
        if (!onAttachmentsChange) return;
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={drop}
      data-testid="composer"
    >
      <form onSubmit={submit} aria-label="Message composer">
        {onAttachmentsChange ? (
          <AttachmentChips
            items={attachments}
            label="Attached to this message"
            onRemove={(i) => onAttachmentsChange((list) => list.filter((_, j) => j !== i))}
          />
        ) : null}
        <label htmlFor="composer-input" className="visually-hidden">
          Message
        </label>
        <textarea
          id="composer-input"
          ref={ref}
          value={value}
          placeholder="Ask about your documents… (Enter to send, Shift+Enter for a new line)"
          onChange={(e) => onChange(e.target.value)}
          onKeyDown={keyDown}
          rows={3}
          disabled={disabled}
        />
        <div className="row">
          <div className="estimate" aria-live="polite" data-testid="estimate">
            {estimate ? (
              <>
                {SOURCES.filter((k) => bySource[k] !== undefined).map((k) => (
                  <span key={k}>
                    {k} {formatTokens(bySource[k])}
                    {k === "datasets" && ctx?.datasets_mode && ctx.datasets_mode !== "none" ? ` (${ctx.datasets_mode})` : ""}
                  </span>
                ))}
                <span>
                  <strong>total {formatTokens(total)}</strong> tokens
                </span>
                <span>
                  est. cost <strong>{estimate.priced ? formatCost(estimate.estimated_cost_usd) : "unknown price"}</strong>
                </span>
                {!fits ? <span className="alert error">over the model's context window</span> : null}
              </>
            ) : estimateError ? (
              <span>Estimate unavailable: {estimateError}</span>
            ) : null}
          </div>
          <span className="spacer" />
          {onAttachmentsChange ? (
            <>
              <DocumentPicker
                onPick={(d) =>
                  onAttachmentsChange((list) =>
                    list.some((a) => a.id === d.id) ? list : [...list, { id: d.id, name: d.name, key: d.id }],
                  )
                }
              />
              <button type="button" className="secondary" onClick={() => fileInput.current?.click()}>
                Attach files
              </button>
              <input
                ref={fileInput}
                type="file"
                multiple
                hidden
                aria-label="Files to attach"
                onChange={(e) => {
                  attachFiles(Array.from(e.target.files ?? []));
                  e.target.value = "";
                }}
              />
            </>
          ) : null}
          {streaming ? (
            <button type="button" className="danger" onClick={onStop}>
              ■ Stop
            </button>
          ) : (
            <button type="submit" disabled={disabled || !value.trim() || uploading}>
              Send
            </button>
          )}
        </div>
      </form>
    </div>
  );
});
