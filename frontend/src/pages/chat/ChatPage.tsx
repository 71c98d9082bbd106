// The chat screen: conversations on the left, the selected path of the message tree in the
// middle with streamed answers, citations in a side panel.

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useNavigate, useParams } from "react-router";
import { api } from "../../api/client";
import { chat, conversations, isOffline, modelItems, modelPrices, preferences, profiles } from "../../api/endpoints";
import { ApiError, errorFromResponse, errorMessage, isAbort } from "../../api/problem";
import type { Citation, Conversation, Message, ModelInfo } from "../../api/types";
import { ErrorAlert } from "../../components/ErrorAlert";
import { formatCost, formatPrice, formatTokens } from "../../lib/format";
import { useAsync } from "../../lib/useAsync";
import { CitationPanel, citationNumber } from "./CitationPanel";
import { Composer } from "./Composer";
import { copyText } from "./copy";
import { interpret } from "./events";
import { Markdown } from "./Markdown";
import { Sidebar } from "./Sidebar";
import { activePath, parentKey, ROOT, type PathStep } from "./tree";

interface Pending {
  /** From the stream's meta event: the ids the server gave the two messages. */
  assistantMessageId?: string;
  /** Where the new branch hangs: the parent of the new user message, or for a regenerate the user message. */
  parentId: string | null;
  userText?: string;
  regenerate: boolean;
  text: string;
  citations?: Citation[];
  inputTokens?: number;
  outputTokens?: number;
  cost?: number;
  estimated?: boolean;
  finishReason?: string;
  error?: string;
  done: boolean;
}

export function modelLabel(m: ModelInfo): string {
  const parts = [m.display_name ?? m.id];
  if (m.context_window) parts.push(`${formatTokens(m.context_window)} ctx`);
  const { input, output } = modelPrices(m);
  if (input !== undefined || output !== undefined) parts.push(`${formatPrice(input)} in / ${formatPrice(output)} out`);
  if (m.available === false) parts.push(m.unavailable_reason ? `unavailable: ${m.unavailable_reason}` : "unavailable");
  return parts.join(" · ");
}

function messageUsage(m: Message) {
  return { input: m.usage?.input, output: m.usage?.output, cost: m.cost?.total_usd, estimated: m.cost?.estimated };
}

export default function ChatPage() {
  const { conversationId } = useParams();
  const navigate = useNavigate();
  const list = useAsync(() => conversations.list(), []);
  const profileList = useAsync(() => profiles.list(), []);
  const models = useAsync(() => chat.models(), []);
  const prefs = useAsync(() => preferences.get(), []);
  const conversation = useAsync<Conversation | null>(
    () => (conversationId ? conversations.get(conversationId) : Promise.resolve(null)),
    [conversationId],
  );

  const [profileId, setProfileId] = useState<string>("");
  const [modelId, setModelId] = useState<string>("");
  const [selection, setSelection] = useState<Record<string, number>>({});
  const [pending, setPending] = useState<Pending | null>(null);
  const [input, setInput] = useState("");
  const [editing, setEditing] = useState<{ id: string; text: string } | null>(null);
  const [citation, setCitation] = useState<{ n: number; citation?: Citation } | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const abortRef = useRef<AbortController | null>(null);
  const streamConversation = useRef<string | null>(null);
  const composerRef = useRef<HTMLTextAreaElement>(null);
  const bottomRef = useRef<HTMLDivElement>(null);

  const modelList = modelItems(models.data);
  const offline = isOffline(models.data);
  const conv = conversation.data ?? null;
  const messages = useMemo(() => conv?.messages ?? [], [conv]);

  // Defaults: the conversation's, then the user's preferences, then the first available.
  useEffect(() => {
    if (conv?.profile_id) setProfileId(conv.profile_id);
    else if (!conversationId) setProfileId((p) => p || prefs.data?.default_profile || profileList.data?.items?.[0]?.id || "");
  }, [conv, conversationId, prefs.data, profileList.data]);
  useEffect(() => {
    if (conv?.model) setModelId(conv.model);
    else
      setModelId(
        (m) => m || prefs.data?.default_model || models.data?.default_model || modelList.find((x) => x.available !== false)?.id || modelList[0]?.id || "",
      );
  }, [conv, prefs.data, models.data, modelList]);

  // A new conversation: fresh branch choices, focus on the composer.
  useEffect(() => {
    setSelection({});
    setCitation(null);
    setEditing(null);
    if (streamConversation.current !== conversationId) setPending(null);
    composerRef.current?.focus();
  }, [conversationId]);

  const path = useMemo(() => activePath(messages, selection, conv?.head_id), [messages, selection, conv?.head_id]);
  const streaming = pending !== null && !pending.done;

  useEffect(() => {
    bottomRef.current?.scrollIntoView?.({ block: "end" });
  }, [pending?.text, path.length]);

  // What is shown: the selected path, cut where a pending answer hangs.
  const shown: PathStep[] = useMemo(() => {
    if (!pending) return path;
    if (pending.parentId === null) return [];
    const i = path.findIndex((s) => s.message.id === pending.parentId);
    return i === -1 ? path : path.slice(0, i + 1);
  }, [path, pending]);
  const lastId = path.length ? path[path.length - 1].message.id : null;

  const run = useCallback(
    async (kind: { send: string; parentId: string | null } | { regenerateOf: Message; userMessageId: string }) => {
      setActionError(null);
      setCitation(null);
      let id = conversationId;
      const isSend = "send" in kind;
      const parentId = isSend ? kind.parentId : kind.userMessageId;
      setPending({ parentId, userText: isSend ? kind.send : undefined, regenerate: !isSend, text: "", done: false });
      let assistantId: string | undefined;
      try {
        if (!id) {
          const created = await conversations.create({ profile_id: profileId || undefined, model: modelId || undefined });
          id = created.id;
          streamConversation.current = id;
          navigate(`/app/chat/${id}`, { replace: true });
        } else {
          streamConversation.current = id;
        }
        const controller = new AbortController();
        abortRef.current = controller;
        const path = isSend
          ? `/conversations/${encodeURIComponent(id)}/messages`
          : `/conversations/${encodeURIComponent(id)}/messages/${encodeURIComponent(kind.regenerateOf.id)}/regenerate`;
        const body = isSend ? { content: kind.send, parent_id: kind.parentId ?? undefined, model: modelId || undefined } : { model: modelId || undefined };
        await api.stream(
          path,
          body,
          (raw) => {
            const ev = interpret(raw);
            setPending((p) => {
              if (!p) return p;
              switch (ev.type) {
                case "meta":
                  assistantId = ev.assistantMessageId ?? assistantId;
                  return { ...p, assistantMessageId: ev.assistantMessageId, citations: ev.citations ?? p.citations };
                case "delta":
                  return { ...p, text: p.text + ev.text };
                case "citations":
                  return { ...p, citations: ev.citations };
                case "usage":
                  return { ...p, inputTokens: ev.inputTokens, outputTokens: ev.outputTokens, cost: ev.cost, estimated: ev.estimated };
                case "done":
                  return { ...p, finishReason: ev.finishReason ?? p.finishReason };
                case "error":
                  return { ...p, error: ev.message, finishReason: "error" };
                default:
                  return p;
              }
            });
          },
          controller.signal,
        );
        setPending((p) => (p ? { ...p, done: true } : p));
      } catch (e) {
        if (isAbort(e)) {
          setPending((p) => (p ? { ...p, done: true, finishReason: "stopped" } : p));
        } else {
          setPending((p) => (p ? { ...p, done: true, error: errorMessage(e), finishReason: "error" } : p));
          // Nothing typed is lost: a message the server refused goes back into the composer.
          if (isSend && e instanceof ApiError) setInput((v) => v || kind.send);
        }
      } finally {
        abortRef.current = null;
      }
      if (id) {
        // The server's record replaces the streamed copy; the newest branch is shown.
        setSelection((s) => {
          const next = { ...s };
          delete next[parentId ?? ROOT];
          if (!isSend) delete next[kind.userMessageId];
          return next;
        });
        try {
          // After a stop or a disconnect the server saves the partial answer as the stream
          // winds down: wait (briefly) until the stored conversation has it.
          let fresh = await conversations.get(id);
          for (let i = 0; i < 15 && assistantId && !fresh.messages?.some((m) => m.id === assistantId); i++) {
            await new Promise((r) => setTimeout(r, 200));
            fresh = await conversations.get(id);
          }
          conversation.setData(fresh);
          const stored = !assistantId || fresh.messages?.some((m) => m.id === assistantId);
          setPending((p) => (p && !p.error && stored ? null : p));
        } catch (e) {
          setActionError(e);
        }
        void list.reload();
      }
      composerRef.current?.focus();
    },
    [conversationId, profileId, modelId, navigate, conversation, list],
  );

  const send = () => {
    const text = input.trim();
    if (!text || streaming) return;
    setInput("");
    void run({ send: text, parentId: lastId });
  };

  const stop = () => {
    abortRef.current?.abort();
    const id = streamConversation.current;
    // On Lambda closing the stream is not enough: the explicit stop sets the flag the loop checks.
    if (id) conversations.stop(id).catch(() => undefined);
  };

  const regenerate = (assistant: Message) => {
    const userId = assistant.parent_id;
    if (!userId || streaming) return;
    void run({ regenerateOf: assistant, userMessageId: userId });
  };

  const submitEdit = (m: Message, text: string) => {
    setEditing(null);
    if (!text.trim() || streaming) return;
    void run({ send: text.trim(), parentId: m.parent_id ?? null });
  };

  const pick = (step: PathStep, delta: number) => {
    const key = parentKey(step.message, messages);
    const next = Math.min(step.siblings.length - 1, Math.max(0, step.index + delta));
    setSelection((s) => ({ ...s, [key]: next }));
  };

  const openCitation = (m: { citations?: Citation[] }, n: number) => {
    const found = (m.citations ?? []).find((c, i) => citationNumber(c, i) === n);
    setCitation({ n, citation: found });
  };

  async function rename() {
    if (!conv) return;
    const title = window.prompt("Rename the conversation", conv.title ?? "");
    if (title === null || !title.trim()) return;
    try {
      conversation.setData({ ...conv, ...(await conversations.rename(conv.id, title.trim())), messages: conv.messages });
      void list.reload();
    } catch (e) {
      setActionError(e);
    }
  }

  async function remove() {
    if (!conv || !window.confirm("Delete this conversation and all its messages?")) return;
    try {
      await conversations.remove(conv.id);
      void list.reload();
      navigate("/app/chat");
    } catch (e) {
      setActionError(e);
    }
  }

  async function exportAs(format: "md" | "json") {
    if (!conv) return;
    try {
      const response = await api.send("GET", `/conversations/${encodeURIComponent(conv.id)}/export`, { query: { format } }, "*/*");
      if (!response.ok) throw await errorFromResponse(response);
      const blob = await response.blob();
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = `${(conv.title || "conversation").replace(/[^\w.-]+/g, "_")}.${format}`;
      a.click();
      URL.revokeObjectURL(a.href);
    } catch (e) {
      setActionError(e);
    }
  }

  const selectedModel = modelList.find((m) => m.id === modelId);
  const profileItems = profileList.data?.items ?? [];

  return (
    <div className={`chat${citation ? " with-panel" : ""}`}>
      <Sidebar
        items={list.data?.items}
        error={list.error}
        onRetry={list.reload}
        onNew={() => {
          navigate("/app/chat");
          composerRef.current?.focus();
        }}
      />
      <section className="chat-main" aria-label="Conversation">
        <div className="chat-toolbar">
          <label>
            Profile
            <select value={profileId} onChange={(e) => setProfileId(e.target.value)} disabled={!!conv?.profile_id || streaming}>
              <option value="">{profileItems.length ? "— choose —" : "No profile"}</option>
              {profileItems.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name}
                </option>
              ))}
            </select>
          </label>
          <label>
            Model
            <select value={modelId} onChange={(e) => setModelId(e.target.value)} disabled={streaming}>
              {modelList.length === 0 ? <option value="">No models</option> : null}
              {modelList.map((m) => (
                <option key={m.id} value={m.id} disabled={m.available === false}>
                  {modelLabel(m)}
                </option>
              ))}
            </select>
          </label>
          {selectedModel ? (
            <span className="muted small" data-testid="model-info">
              {selectedModel.provider ? `${selectedModel.provider} · ` : ""}
              context {formatTokens(selectedModel.context_window)} tokens · {formatPrice(modelPrices(selectedModel).input)} input,{" "}
              {formatPrice(modelPrices(selectedModel).output)} output
            </span>
          ) : null}
          <span className="spacer" />
          {conv ? (
            <div className="row">
              <strong title={conv.title ?? undefined}>{conv.title || "Untitled"}</strong>
              <button type="button" className="icon" onClick={rename}>
                Rename
              </button>
              <button type="button" className="icon" onClick={() => exportAs("md")}>
                Export .md
              </button>
              <button type="button" className="icon" onClick={() => exportAs("json")}>
                .json
              </button>
              <button type="button" className="icon" onClick={remove}>
                Delete
              </button>
            </div>
          ) : null}
        </div>
        {offline ? (
          <div className="alert warn" role="status" data-testid="offline-banner">
            <strong>Offline mode.</strong> No model provider is configured, so answers are the most relevant passages from
            your documents, with their sources.
          </div>
        ) : null}
        <ErrorAlert error={models.error} onRetry={models.reload} context="Models" />
        <ErrorAlert error={profileList.error} onRetry={profileList.reload} context="Profiles" />
        <ErrorAlert error={conversation.error} onRetry={conversation.reload} context="Conversation" />
        <ErrorAlert error={actionError} />
        <div className="messages" aria-live="polite" aria-busy={streaming}>
          {shown.length === 0 && !pending ? (
            <div className="empty">
              <h2>Ask your documents</h2>
              <p>Pick a profile and a model, then type a question. Answers cite the passages they use.</p>
            </div>
          ) : null}
          {shown.map((step) => (
            <MessageView
              key={step.message.id}
              step={step}
              busy={streaming}
              editing={editing?.id === step.message.id ? editing.text : null}
              onEdit={(text) => setEditing(text === null ? null : { id: step.message.id, text })}
              onSubmitEdit={(text) => submitEdit(step.message, text)}
              onRegenerate={() => regenerate(step.message)}
              onPick={(d) => pick(step, d)}
              onCite={(n) => openCitation(step.message, n)}
            />
          ))}
          {pending ? (
            <>
              {pending.userText !== undefined ? (
                <article className="message user" aria-label="Your message">
                  <div className="bubble">{pending.userText}</div>
                </article>
              ) : null}
              <article className={`message assistant${pending.error ? " failed" : ""}`} aria-label="Answer" data-testid="pending-answer">
                <div className="bubble">
                  {pending.text ? (
                    <Markdown text={pending.text} streaming={!pending.done} onCite={(n) => openCitation(pending, n)} />
                  ) : !pending.done ? (
                    <span className="muted typing">Thinking</span>
                  ) : null}
                  {pending.error ? <div role="alert" className="alert error">{pending.error}</div> : null}
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
          ) : null}
          <div ref={bottomRef} />
        </div>
        <Composer
          ref={composerRef}
          value={input}
          onChange={setInput}
          onSend={send}
          onStop={stop}
          streaming={streaming}
          estimateFor={{ profile_id: profileId || undefined, model: modelId || undefined, conversation_id: conversationId, parent_id: lastId }}
        />
      </section>
      {citation ? <CitationPanel n={citation.n} citation={citation.citation} onClose={() => setCitation(null)} /> : null}
    </div>
  );
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

function MessageView({ step, busy, editing, onEdit, onSubmitEdit, onRegenerate, onPick, onCite }: MessageProps) {
  const m = step.message;
  const [copied, setCopied] = useState(false);
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
        {!isUser && m.model ? <span>{m.model}</span> : null}
        {!isUser && (usage.input !== undefined || usage.output !== undefined) ? (
          <span data-testid="answer-usage">
            {formatTokens(usage.input)} in · {formatTokens(usage.output)} out · {formatCost(usage.cost)}
            {usage.estimated ? " (estimate)" : ""}
          </span>
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
