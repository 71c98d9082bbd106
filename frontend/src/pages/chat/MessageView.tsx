// One message of the conversation (with its branch switcher, copy, edit and regenerate, and its
// model, tokens, cost and sources on hover or tap of "Details"), and the answer still streaming.

import { useState } from "react";
import type { Message } from "../../api/models";
import { LimitNotice } from "../../components/LimitNotice";
import { formatCost, formatTokens } from "../../lib/format";
import { copyText } from "./copy";
import { AttachmentChips } from "./Attachments";
import { Markdown } from "./Markdown";
import type { PathStep } from "./tree";
import type { Pending } from "./useChatStream";

function messageUsage(m: Message) {
  return { input: m.usage?.input, output: m.usage?.output, cost: m.cost?.total_usd, estimated: m.cost?.estimated };
}

interface MessageProps {
  step: PathStep;
  busy: boolean;
  editing: string | null;
  onEdit: (text: string | null) => void;
  onSubmitEdit: (text: string) => void;
  onRegenerate: () => void;
  onPick: (delta: number) => void;
  onCite: (n: number) => void;
}

export function MessageView({ step, busy, editing, onEdit, onSubmitEdit, onRegenerate, onPick, onCite }: MessageProps) {
  const m = step.message;
  const [copied, setCopied] = useState(false);
  const [details, setDetails] = useState(false);
  const usage = messageUsage(m);
  const failed = m.finish_reason === "error" || !!m.error;
  const isUser = m.role === "user";
  return (
    <article className={`message ${m.role}${failed ? " failed" : ""}`} aria-label={isUser ? "Your message" : "Answer"}>
      {editing !== null ? (
        <form
          className="bubble"
          onSubmit={(e) => {
            e.preventDefault();
            onSubmitEdit(editing);
          }}
        >
          <label>
            Edit your message
            <textarea
              autoFocus
              value={editing}
              rows={3}
              onChange={(e) => onEdit(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === "Enter" && !e.shiftKey) {
                  e.preventDefault();
                  onSubmitEdit(editing);
                } else if (e.key === "Escape") onEdit(null);
              }}
            />
          </label>
          <div className="row">
            <button type="submit" disabled={busy}>
              Send as a new branch
            </button>
            <button type="button" className="secondary" onClick={() => onEdit(null)}>
              Cancel
            </button>
          </div>
        </form>
      ) : (
        <div className="bubble">
          {isUser ? m.content : <Markdown text={m.content} onCite={onCite} />}
          {isUser ? <AttachmentChips items={m.attachments ?? []} /> : null}
          {m.error ? <div role="alert" className="alert error">The answer failed: {m.error}</div> : null}
        </div>
      )}
      <div className="meta">
        {step.siblings.length > 1 ? (
          <span className="branch-nav" role="group" aria-label="Branches">
            <button type="button" className="icon" aria-label="Previous branch" disabled={step.index === 0} onClick={() => onPick(-1)}>
              ‹
            </button>
            <span>
              {step.index + 1}/{step.siblings.length}
            </span>
            <button
              type="button"
              className="icon"
              aria-label="Next branch"
              disabled={step.index === step.siblings.length - 1}
              onClick={() => onPick(1)}
            >
              ›
            </button>
          </span>
        ) : null}
        {!isUser ? (
          <>
            <button
              type="button"
              className="icon details-toggle"
              aria-expanded={details}
              aria-controls={`details-${m.id}`}
              onClick={() => setDetails((d) => !d)}
              onKeyDown={(e) => e.key === "Escape" && setDetails(false)}
            >
              Details
            </button>
            <div id={`details-${m.id}`} className={`message-details${details ? " open" : ""}`} data-testid="message-details">
              {m.model ? <div>{m.model}</div> : null}
              {usage.input !== undefined || usage.output !== undefined ? (
                <div data-testid="answer-usage">
                  {formatTokens(usage.input)} in · {formatTokens(usage.output)} out · {formatCost(usage.cost)}
                  {usage.estimated ? " (estimate)" : ""}
                </div>
              ) : null}
              {m.context?.documents?.length ? (
                <div>
                  Sources:{" "}
                  {m.context.documents
                    .map((d) => `${d.name} (${d.attached ? "attached, " : ""}${d.mode}, ${formatTokens(d.tokens)} tokens)`)
                    .join(", ")}
                </div>
              ) : null}
              {!m.model && usage.input === undefined && usage.output === undefined ? <div>No usage recorded.</div> : null}
            </div>
          </>
        ) : null}
        {m.finish_reason && m.finish_reason !== "stop" && m.finish_reason !== "end_turn" ? <span className="badge">{m.finish_reason}</span> : null}
        <button
          type="button"
          className="icon"
          onClick={async () => {
            setCopied(await copyText(m.content));
            window.setTimeout(() => setCopied(false), 1500);
          }}
        >
          {copied ? "Copied" : "Copy"}
        </button>
        {isUser ? (
          // An edit is a new message beside this one, after the same answer; the API has no
          // second start for a conversation, so the first question cannot be edited.
          <button
            type="button"
            className="icon"
            disabled={busy || !m.parent_id}
            title={m.parent_id ? "Edit: the new version becomes a branch" : "The first question cannot be edited; start a new chat"}
            onClick={() => onEdit(m.content)}
          >
            Edit
          </button>
        ) : (
          <button type="button" className="icon" disabled={busy} onClick={onRegenerate}>
            Regenerate
          </button>
        )}
      </div>
    </article>
  );
}

/** The question just sent and its answer as it streams in. */
export function PendingView({ pending, onCite }: { pending: Pending; onCite: (n: number) => void }) {
  return (
    <>
      {pending.userText !== undefined ? (
        <article className="message user" aria-label="Your message">
          <div className="bubble">
            {pending.userText}
            <AttachmentChips items={pending.userAttachments ?? []} />
          </div>
        </article>
      ) : null}
      <article className={`message assistant${pending.error ? " failed" : ""}`} aria-label="Answer" data-testid="pending-answer">
        <div className="bubble">
          {pending.text ? (
            <Markdown text={pending.text} streaming={!pending.done} onCite={onCite} />
          ) : !pending.done ? (
            <span className="muted typing">Thinking</span>
          ) : null}
          {pending.limit ? (
            <LimitNotice limit={pending.limit} />
          ) : pending.error ? (
            <div role="alert" className="alert error">{pending.error}</div>
          ) : null}
        </div>
        <div className="meta">
          {pending.finishReason ? <span className="badge">{pending.finishReason}</span> : null}
          {pending.outputTokens !== undefined ? (
            <span>
              {formatTokens(pending.inputTokens)} in · {formatTokens(pending.outputTokens)} out · {formatCost(pending.cost)}
              {pending.estimated ? " (estimate)" : ""}
            </span>
          ) : null}
        </div>
      </article>
    </>
  );
}
