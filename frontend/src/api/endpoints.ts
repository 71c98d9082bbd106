// Typed calls for each endpoint the app uses (DESIGN.md, API sketch).

import { api, type Tokens } from "./client";
import type {
  ApiKey,
  Conversation,
  ConversationHit,
  DocumentKind,
  DocumentMeta,
  Estimate,
  Me,
  ModelInfo,
  ModelList,
  Page,
  Preferences,
  Profile,
  UsageReport,
} from "./types";

export const auth = {
  register: (email: string, password: string) =>
    api.post<Tokens>("/auth/register", { email, password }, { anonymous: true }),
  login: (email: string, password: string) => api.post<Tokens>("/auth/login", { email, password }, { anonymous: true }),
  logout: (refresh_token: string) => api.post<void>("/auth/logout", { refresh_token }),
  me: () => api.get<Me>("/auth/me"),
  changePassword: (current_password: string, new_password: string) =>
    api.post<void>("/auth/change-password", { current_password, new_password }),
  listKeys: () => api.get<Page<ApiKey>>("/auth/api-keys"),
  createKey: (name: string) => api.post<ApiKey>("/auth/api-keys", { name }),
  revokeKey: (id: string) => api.delete<void>(`/auth/api-keys/${encodeURIComponent(id)}`),
};

export const preferences = {
  get: () => api.get<Preferences>("/users/me/preferences"),
  put: (p: Preferences) => api.put<Preferences>("/users/me/preferences", p),
};

export type ProfileInput = Omit<Profile, "id" | "created_at" | "updated_at">;

export const profiles = {
  list: () => api.get<Page<Profile>>("/profiles"),
  get: (id: string) => api.get<Profile>(`/profiles/${encodeURIComponent(id)}`),
  create: (p: Partial<ProfileInput>) => api.post<Profile>("/profiles", p),
  update: (id: string, p: Partial<ProfileInput>) => api.patch<Profile>(`/profiles/${encodeURIComponent(id)}`, p),
  remove: (id: string) => api.delete<void>(`/profiles/${encodeURIComponent(id)}`),
};

export const documents = {
  list: (filter: { kind?: DocumentKind | ""; profile?: string; cursor?: string } = {}) =>
    api.get<Page<DocumentMeta>>("/documents", { query: filter }),
  get: (id: string) => api.get<DocumentMeta>(`/documents/${encodeURIComponent(id)}`),
  upload: (file: File, kind: DocumentKind, onProgress?: (loaded: number, total: number) => void, signal?: AbortSignal) =>
    api.upload<DocumentMeta>("/documents", file, { query: { kind, name: file.name }, onProgress, signal }),
  replace: (id: string, file: File, onProgress?: (loaded: number, total: number) => void) =>
    api.upload<DocumentMeta>(`/documents/${encodeURIComponent(id)}/content`, file, { method: "PUT", onProgress }),
  rename: (id: string, name: string) => api.patch<DocumentMeta>(`/documents/${encodeURIComponent(id)}`, { name }),
  remove: (id: string) => api.delete<void>(`/documents/${encodeURIComponent(id)}`),
  text: (id: string) => api.text(`/documents/${encodeURIComponent(id)}/content`, { query: { format: "text" } }),
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
  estimate: (body: { profile_id?: string; model?: string; content: string; conversation_id?: string; parent_id?: string | null }, signal?: AbortSignal) =>
    api.post<Estimate>("/chat/estimate", body, { signal }),
};

export const usage = {
  get: (from: string, to: string) => api.get<UsageReport>("/usage", { query: { from, to } }),
};

/** The models of a GET /models answer, whatever list field it uses. */
export function modelItems(list: ModelList | undefined): ModelInfo[] {
  return list?.items ?? list?.data ?? [];
}

/** Offline: no provider is configured, only the built-in retrieval model answers. */
export function isOffline(list: ModelList | undefined): boolean {
  if (!list) return false;
  if (typeof list.offline === "boolean") return list.offline;
  const items = modelItems(list);
  return items.length > 0 && items.every((m) => m.retrieval_only || m.offline || m.provider === "retrieval" || m.available === false);
}

export function modelPrices(m: ModelInfo): { input?: number; output?: number } {
  return {
    input: m.prices?.input ?? m.input_price ?? m.input_per_mtok,
    output: m.prices?.output ?? m.output_price ?? m.output_per_mtok,
  };
}
