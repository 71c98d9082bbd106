// The chat screen: conversations on the left (a drawer on a phone), the selected path of the
// message tree in the middle with streamed answers (spoken politely to screen readers),
// citations in a side panel.

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useNavigate, useParams } from "react-router";
import { api } from "../../api/client";
import { chat, conversations, isOffline, modelItems, modelPrices, preferences, profiles } from "../../api/endpoints";
import { ApiError, errorFromResponse } from "../../api/problem";
import type { Citation, Conversation, Message, ModelInfo } from "../../api/models";
import { ErrorAlert } from "../../components/ErrorAlert";
import { MenuButton } from "../../components/MenuButton";
import { ProfileOptions } from "../../components/Options";
import { formatPrice, formatTokens } from "../../lib/format";
import { useAsync } from "../../lib/useAsync";
import { usePaged } from "../../lib/usePaged";
import { useAnnouncement } from "./announce";
import { CitationPanel, citationNumber } from "./CitationPanel";
import type { ComposerAttachment } from "./Attachments";
import { Composer } from "./Composer";
import { ConversationTitle } from "./ConversationTitle";
import { MessageView, PendingView } from "./MessageView";
import { effectiveModel, lastChoice, rememberChoice } from "./model";
import { Sidebar } from "./Sidebar";
import { activePath, parentKey, ROOT, type PathStep } from "./tree";
import { type StreamOutcome, useChatStream } from "./useChatStream";

export function modelLabel(m: ModelInfo): string {
  const parts = [m.display_name ?? m.id];
  if (m.context_window) parts.push(`${formatTokens(m.context_window)} ctx`);
  const { input, output } = modelPrices(m);
  if (input !== undefined || output !== undefined) parts.push(`${formatPrice(input)} in / ${formatPrice(output)} out`);
  if (m.available === false) parts.push(m.unavailable_reason ? `unavailable: ${m.unavailable_reason}` : "unavailable");
  return parts.join(" · ");
}

export default function ChatPage() {
  const { conversationId } = useParams();
  const navigate = useNavigate();
  const list = usePaged((cursor) => conversations.list(cursor), []);
  const profileList = useAsync(() => profiles.list(), []);
  const models = useAsync(() => chat.models(), []);
  const prefs = useAsync(() => preferences.get(), []);
  const conversation = useAsync<Conversation | null>(
    () => (conversationId ? conversations.get(conversationId) : Promise.resolve(null)),
    [conversationId],
  );

  const [profileId, setProfileId] = useState<string>("");
  /**
   * The model the user picked for what they send next; "" until they pick one. A new chat
   * starts with the last one picked (kept on this device), as it does with the last profile.
   */
  const [pickedModel, setPickedModel] = useState<string>(() => (conversationId ? "" : lastChoice().model));
  /** The conversation list, as a drawer on a narrow screen. */
  const [drawerOpen, setDrawerOpen] = useState(false);
  const drawerToggleRef = useRef<HTMLButtonElement>(null);
  const [selection, setSelection] = useState<Record<string, number>>({});
  const { pending, setPending, streaming, conversationRef: streamConversation, begin, fail, stream, stop } = useChatStream();
  const [input, setInput] = useState("");
  const [attachments, setAttachments] = useState<ComposerAttachment[]>([]);
  const [editing, setEditing] = useState<{ id: string; text: string } | null>(null);
  const [citation, setCitation] = useState<{ n: number; citation?: Citation } | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const composerRef = useRef<HTMLTextAreaElement>(null);
  const bottomRef = useRef<HTMLDivElement>(null);

  const modelList = modelItems(models.data);
  const offline = isOffline(models.data);
  const conv = conversation.data ?? null;
  const messages = useMemo(() => conv?.messages ?? [], [conv]);

  // The profile: the conversation's, else (a new chat) the one of the chat before, the last
  // one chosen, the user's default, the first — whichever still exists.
  useEffect(() => {
    if (conv?.profile_id) setProfileId(conv.profile_id);
    else if (!conversationId && profileList.data) {
      const ids = new Set((profileList.data.items ?? []).map((p) => p.id));
      setProfileId(
        (p) => [p, lastChoice().profile, prefs.data?.default_profile ?? "", profileList.data?.items?.[0]?.id ?? ""].find((id) => id && ids.has(id)) ?? "",
      );
    }
  }, [conv, conversationId, prefs.data, profileList.data]);
  const profileItems = profileList.data?.items ?? [];
  // A remembered pick counts only while that model is offered and available.
  const chosenModel = pickedModel && modelList.some((m) => m.id === pickedModel && m.available !== false) ? pickedModel : "";
  // The model shown: the one picked, else what the server's rule will use (conversation →
  // profile → preferences → catalog default). Only a picked model is sent: the server applies
  // the rule itself, so a profile's default model is used when nothing was picked.
  const modelId =
    chosenModel ||
    effectiveModel({
      conversation: conv?.model,
      profile: profileItems.find((p) => p.id === profileId)?.default_model,
      preferences: prefs.data?.default_model,
      catalog: models.data?.default_model || modelList.find((x) => x.available !== false)?.id || modelList[0]?.id,
    });
  const explicitModel = chosenModel || undefined;

  // A new conversation: fresh branch choices, focus on the composer.
  useEffect(() => {
    setSelection({});
    setCitation(null);
    setEditing(null);
    setDrawerOpen(false);
    // Another conversation: its own model unless the user picks one; a new chat: the last pick.
    // (The conversation just created for the message being sent keeps the pick it was created with.)
    if (streamConversation.current !== conversationId) {
      setPending(null);
      setPickedModel((m) => (conversationId ? "" : m || lastChoice().model));
    }
    composerRef.current?.focus();
  }, [conversationId]);

  const path = useMemo(() => activePath(messages, selection, conv?.head_id), [messages, selection, conv?.head_id]);

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
    async (kind: { send: string; parentId: string | null; attachments?: { id: string; name: string }[] } | { regenerateOf: Message; userMessageId: string }) => {
      setActionError(null);
      setCitation(null);
      let id = conversationId;
      const isSend = "send" in kind;
      const parentId = isSend ? kind.parentId : kind.userMessageId;
      begin({ parentId, userText: isSend ? kind.send : undefined, userAttachments: isSend ? kind.attachments : undefined, regenerate: !isSend });
      let outcome: StreamOutcome = {};
      try {
        if (!id) {
          rememberChoice({ profile: profileId, model: explicitModel ?? "" });
          const created = await conversations.create({ profile_id: profileId || undefined, model: explicitModel });
          id = created.id;
          streamConversation.current = id;
          navigate(`/app/chat/${id}`, { replace: true });
        }
      } catch (e) {
        fail(e);
        outcome = { error: e };
      }
      if (id && !outcome.error) {
        const path = isSend
          ? `/conversations/${encodeURIComponent(id)}/messages`
          : `/conversations/${encodeURIComponent(id)}/messages/${encodeURIComponent(kind.regenerateOf.id)}/regenerate`;
        const attached = isSend ? (kind.attachments ?? []).map((a) => a.id) : [];
        const body = isSend
          ? { content: kind.send, parent_id: kind.parentId ?? undefined, model: explicitModel, ...(attached.length ? { attachments: attached } : {}) }
          : { model: explicitModel };
        outcome = await stream(id, path, body);
      }
      // Nothing typed is lost: a message the server refused goes back into the composer.
      if (isSend && outcome.error instanceof ApiError) setInput((v) => v || kind.send);
      const assistantId = outcome.assistantId;
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
    [conversationId, profileId, explicitModel, navigate, conversation, list, begin, fail, stream, setPending, streamConversation],
  );

  const send = () => {
    const text = input.trim();
    if (!text || streaming) return;
    setInput("");
    const attached = attachments.flatMap((a) => (a.id ? [{ id: a.id, name: a.name }] : []));
    setAttachments([]);
    void run({ send: text, parentId: lastId, attachments: attached });
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

  async function rename(title: string) {
    if (!conv) return;
    setActionError(null);
    try {
      conversation.setData({ ...conv, ...(await conversations.rename(conv.id, title)), messages: conv.messages });
      void list.reload();
    } catch (e) {
      setActionError(e);
      throw e;
    }
  }

  function closeDrawer() {
    if (!drawerOpen) return;
    setDrawerOpen(false);
    drawerToggleRef.current?.focus();
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
  const announcement = useAnnouncement(pending);

  return (
    <div className={`chat${citation ? " with-panel" : ""}`}>
      <Sidebar
        items={list.data?.items}
        error={list.error}
        onRetry={list.reload}
        hasMore={list.hasMore}
        loadingMore={list.loadingMore}
        onLoadMore={list.loadMore}
        onNew={() => {
          setDrawerOpen(false);
          navigate("/app/chat");
          composerRef.current?.focus();
        }}
        open={drawerOpen}
        onClose={closeDrawer}
      />
      {drawerOpen ? <div className="drawer-backdrop" onClick={closeDrawer} /> : null}
      <section className="chat-main" aria-label="Conversation">
        <div className="chat-toolbar">
          <div className="chat-head">
            <MenuButton
              ref={drawerToggleRef}
              className="drawer-toggle"
              open={drawerOpen}
              controls="conversations"
              label="Chats"
              onToggle={() => setDrawerOpen((o) => !o)}
            />
            <h1 className="conv-title">{conv ? <ConversationTitle key={conv.id} title={conv.title} onRename={rename} /> : "New chat"}</h1>
            {conv ? (
              <div className="row conv-actions">
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
          <div className="chat-pickers">
            <label>
              Profile
              <select
                value={profileId}
                onChange={(e) => {
                  setProfileId(e.target.value);
                  rememberChoice({ profile: e.target.value });
                }}
                disabled={!!conv?.profile_id || streaming}
              >
                {/* Without a profile a chat draws on all of the user's datasets (no instructions). */}
                <option value="">No profile: all your datasets</option>
                <ProfileOptions profiles={profileItems} />
              </select>
            </label>
            <label>
              Model
              <select
                value={modelId}
                onChange={(e) => {
                  setPickedModel(e.target.value);
                  rememberChoice({ model: e.target.value });
                }}
                disabled={streaming}
              >
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
          </div>
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
        <div className="visually-hidden" aria-live="polite" data-testid="announcer">
          {announcement}
        </div>
        <div className="messages">
          {shown.length === 0 && !pending ? (
            <div className="empty">
              <h2>Ask your documents</h2>
              <p>
                Pick a profile (or none, to ask all your datasets) and a model, then type a question. Answers cite the
                passages they use.
              </p>
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
          {/* The citations come with the stored answer (the `done` event); until then a [n] opens nothing. */}
          {pending ? <PendingView pending={pending} onCite={() => undefined} /> : null}
          <div ref={bottomRef} />
        </div>
        <Composer
          ref={composerRef}
          value={input}
          onChange={setInput}
          onSend={send}
          onStop={stop}
          streaming={streaming}
          attachments={attachments}
          onAttachmentsChange={setAttachments}
          estimateFor={{ profile_id: profileId || undefined, model: explicitModel, conversation_id: conversationId, parent_id: lastId }}
        />
      </section>
      {citation ? <CitationPanel n={citation.n} citation={citation.citation} onClose={() => setCitation(null)} /> : null}
    </div>
  );
}
