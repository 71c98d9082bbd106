// Typed calls for each endpoint the app uses (DESIGN.md, API sketch).

import { api, type Tokens } from "./client";
import { ApiError } from "./problem";
import type {
  AccountDeleted,
  AccountStatus,
  AdminModel,
  AdminUser,
  CreatedInvite,
  Invite,
  ModelChange,
  NewModel,
  OperatorSettings,
  OperatorUsage,
  ResetLink,
  UserChange,
  ApiKey,
  AuditEvent,
  Budgets,
  Conversation,
  CreatedApiKey,
  ConversationHit,
  DocumentKind,
  DocumentMeta,
  Estimate,
  FolderMove,
  FolderSummary,
  Me,
  ModelInfo,
  ModelList,
  Page,
  Preferences,
  PendingUpload,
  Profile,
  ReindexProgress,
  Session,
  UploadResult,
  UsageReport,
} from "./models";

export const auth = {
  /** `invite`: the token of an invite link, when the server's policy is `invite`. */
  register: (email: string, password: string, invite?: string) =>
    api.post<Tokens>("/auth/register", invite ? { email, password, invite } : { email, password }, { anonymous: true }),
  login: (email: string, password: string) => api.post<Tokens>("/auth/login", { email, password }, { anonymous: true }),
  logout: (refresh_token: string) => api.post<void>("/auth/logout", { refresh_token }),
  me: () => api.get<Me>("/auth/me"),
  /** Other sessions are signed out; the answer carries fresh tokens for this one. */
  changePassword: async (current_password: string, new_password: string, revoke_api_keys = true) => {
    const tokens = await api.post<Tokens | undefined>("/auth/change-password", { current_password, new_password, revoke_api_keys });
    if (tokens?.access_token && tokens.refresh_token) api.setTokens(tokens);
  },
  /** Mails a reset link if an account has the email; the answer is the same either way. */
  requestPasswordReset: (email: string) =>
    api.post<{ detail: string }>("/auth/password-reset", { email }, { anonymous: true }),
  confirmPasswordReset: (token: string, new_password: string) =>
    api.post<void>("/auth/password-reset/confirm", { token, new_password }, { anonymous: true }),
  /** Deletes the account and everything it owns; says what went. */
  deleteAccount: (password: string) => api.request<AccountDeleted>("DELETE", "/auth/me", { body: { password } }),
  listKeys: () => api.get<Page<ApiKey>>("/auth/api-keys"),
  /** `password` is needed when the last sign-in is over 5 minutes old. */
  createKey: (name: string, password?: string) =>
    api.post<CreatedApiKey>("/auth/api-keys", password ? { name, password } : { name }),
  listSessions: () => api.get<Page<Session>>("/auth/sessions"),
  /** Signs out every session, this one included. */
  revokeAllSessions: () => api.post<void>("/auth/sessions/revoke-all", {}),
  revokeKey: (id: string) => api.delete<void>(`/auth/api-keys/${encodeURIComponent(id)}`),
  /** The caller's security activity, newest first. */
  audit: (cursor?: string | null) =>
    api.get<Page<AuditEvent>>(`/auth/audit?limit=20${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`),
};

export const preferences = {
  get: () => api.get<Preferences>("/users/me/preferences"),
  put: (p: Preferences) => api.put<Preferences>("/users/me/preferences", p),
};

/** The profile editor's form: a custom temperature is `null` until the user sets one. */
export type ProfileInput = Omit<Profile, "id" | "created_at" | "updated_at" | "temperature" | "version"> & {
  temperature: number | null;
  version?: number;
};

export const profiles = {
  list: () => api.get<Page<Profile>>("/profiles"),
  get: (id: string) => api.get<Profile>(`/profiles/${encodeURIComponent(id)}`),
  create: (p: Partial<ProfileInput>) => api.post<Profile>("/profiles", p),
  update: (id: string, p: Partial<ProfileInput>) => api.patch<Profile>(`/profiles/${encodeURIComponent(id)}`, p),
  remove: (id: string) => api.delete<void>(`/profiles/${encodeURIComponent(id)}`),
};

/** Files above this go through a presigned upload (the API's direct limit is 6 MB). */
export const DIRECT_UPLOAD_LIMIT = 5 * 1024 * 1024;

const MEDIA_TYPES: Record<string, string> = {
  md: "text/markdown",
  markdown: "text/markdown",
  txt: "text/plain",
  text: "text/plain",
  html: "text/html",
  htm: "text/html",
  pdf: "application/pdf",
};

/** A file's media type; browsers often leave it empty for Markdown. */
export function mediaTypeOf(file: File): string {
  const ext = file.name.split(".").pop()?.toLowerCase() ?? "";
  return MEDIA_TYPES[ext] ?? (file.type || "application/octet-stream");
}

type Progress = (loaded: number, total: number) => void;

/** Large files: a presigned PUT straight to the blob store (which holds it to the announced
 * size), then a commit. */
async function uploadLarge(file: File, kind: DocumentKind, onProgress?: Progress, signal?: AbortSignal, folder = ""): Promise<UploadResult> {
  const media_type = mediaTypeOf(file);
  const pending = await api.post<PendingUpload>("/documents/uploads", { name: file.name, folder, kind, media_type, size: file.size });
  const url = new URL(pending.upload.url, window.location.origin).toString();
  await api.upload<void>(url, file, {
    method: pending.upload.method || "PUT",
    contentType: media_type,
    headers: Object.fromEntries(pending.upload.headers ?? []),
    external: true,
    onProgress,
    signal,
  });
  return api.post<UploadResult>(`/documents/${encodeURIComponent(pending.document_id)}/commit`);
}

export const documents = {
  list: (
    filter: { kind?: DocumentKind | ""; profile?: string; folder?: string; recursive?: boolean; limit?: number; cursor?: string } = {},
  ) => api.get<Page<DocumentMeta>>("/documents", { query: filter }),
  /** The folder tree's rows: every folder with its direct and total document counts. */
  folders: () => api.get<Page<FolderSummary>>("/documents/folders", { query: { limit: "1000" } }),
  /** Moves a batch of the folder `from` (subfolders included) to `to`; repeat until `done`. */
  renameFolder: (from: string, to: string) => api.post<FolderMove>("/documents/folders/rename", { from, to }),
  get: (id: string) => api.get<DocumentMeta>(`/documents/${encodeURIComponent(id)}`),
  /** Uploads `file` as a document of `kind` into `folder` (`a/b`; `""`: the root). */
  upload: async (file: File, kind: DocumentKind, onProgress?: Progress, signal?: AbortSignal, folder = ""): Promise<UploadResult> => {
    if (file.size > DIRECT_UPLOAD_LIMIT) return uploadLarge(file, kind, onProgress, signal, folder);
    try {
      return await api.upload<UploadResult>("/documents", file, {
        query: { kind, name: file.name, folder },
        contentType: mediaTypeOf(file),
        onProgress,
        signal,
      });
    } catch (e) {
      // The server's direct limit may be lower than ours: go the presigned way.
      if (e instanceof ApiError && e.status === 413) return uploadLarge(file, kind, onProgress, signal, folder);
      throw e;
    }
  },
  replace: (id: string, file: File, onProgress?: Progress) =>
    api.upload<DocumentMeta>(`/documents/${encodeURIComponent(id)}/content`, file, {
      method: "PUT",
      contentType: mediaTypeOf(file),
      onProgress,
    }),
  rename: (id: string, name: string) => api.patch<DocumentMeta>(`/documents/${encodeURIComponent(id)}`, { name }),
  move: (id: string, folder: string) => api.patch<DocumentMeta>(`/documents/${encodeURIComponent(id)}`, { folder }),
  remove: (id: string) => api.delete<void>(`/documents/${encodeURIComponent(id)}`),
  text: (id: string) => api.text(`/documents/${encodeURIComponent(id)}/content`, { query: { format: "text" } }),
  reindexProgress: () => api.get<ReindexProgress>("/documents/reindex"),
  reindex: () => api.post<ReindexProgress>("/documents/reindex"),
  reindexOne: (id: string) => api.post<ReindexProgress>(`/documents/${encodeURIComponent(id)}/reindex`),
};

export const conversations = {
  list: (cursor?: string) => api.get<Page<Conversation>>("/conversations", { query: { cursor } }),
  search: (q: string) => api.get<Page<ConversationHit>>("/conversations/search", { query: { q } }),
  get: (id: string) => api.get<Conversation>(`/conversations/${encodeURIComponent(id)}`),
  create: (c: { profile_id?: string; model?: string; title?: string }) => api.post<Conversation>("/conversations", c),
  rename: (id: string, title: string) => api.patch<Conversation>(`/conversations/${encodeURIComponent(id)}`, { title }),
  remove: (id: string) => api.delete<void>(`/conversations/${encodeURIComponent(id)}`),
  stop: (id: string) => api.post<void>(`/conversations/${encodeURIComponent(id)}/stop`, {}),
};

export const chat = {
  models: () => api.get<ModelList>("/models"),
  estimate: (body: { profile_id?: string; model?: string; content: string; conversation_id?: string; parent_id?: string | null; attachments?: string[] }, signal?: AbortSignal) =>
    api.post<Estimate>("/chat/estimate", body, { signal }),
};

export const usage = {
  get: (from: string, to: string) => api.get<UsageReport>("/usage", { query: { from, to } }),
  budget: () => api.get<Budgets>("/usage/budget"),
  setBudget: (b: Budgets) => api.put<Budgets>("/usage/budget", b),
};

const userPath = (id: string) => `/admin/users/${encodeURIComponent(id)}`;

/** The admin console (admins only: the server answers 403 to anyone else). */
export const admin = {
  users: (filter: { q?: string; status?: AccountStatus | ""; cursor?: string | null } = {}) =>
    api.get<Page<AdminUser>>("/admin/users", { query: filter }),
  /** Approve or reactivate (`status: "active"`), suspend, change the role or the quota override. */
  update: (id: string, change: UserChange) => api.patch<AdminUser>(userPath(id), change),
  /** Deletes the account and everything it owns. */
  remove: (id: string) => api.delete<AccountDeleted>(userPath(id)),
  /** A one-time password-reset link to pass on to the user. */
  resetLink: (id: string) => api.post<ResetLink>(`${userPath(id)}/password-reset`),
  settings: () => api.get<OperatorSettings>("/admin/settings"),
  saveSettings: (s: OperatorSettings) => api.put<OperatorSettings>("/admin/settings", s),
  invites: () => api.get<Page<Invite>>("/admin/invites"),
  createInvite: (expires_in_hours: number) => api.post<CreatedInvite>("/admin/invites", { expires_in_hours }),
  revokeInvite: (id: string) => api.delete<void>(`/admin/invites/${encodeURIComponent(id)}`),
  usage: (from: string, to: string) => api.get<OperatorUsage>("/admin/usage", { query: { from, to } }),
  models: () => api.get<Page<AdminModel>>("/admin/models"),
  addModel: (m: NewModel) => api.post<AdminModel>("/admin/models", m),
  updateModel: (id: string, change: ModelChange) => api.patch<AdminModel>(`/admin/models/${encodeURIComponent(id)}`, change),
  /** Removes an added model, or returns a catalog one to its defaults. */
  removeModel: (id: string) => api.delete<void>(`/admin/models/${encodeURIComponent(id)}`),
};

export function modelItems(list: ModelList | undefined): ModelInfo[] {
  return list?.items ?? [];
}

/** Offline: no provider is configured, only the built-in retrieval model answers. */
export function isOffline(list: ModelList | undefined): boolean {
  return list?.offline === true;
}

export function modelPrices(m: ModelInfo): { input?: number; output?: number } {
  return { input: m.input_price ?? undefined, output: m.output_price ?? undefined };
}
