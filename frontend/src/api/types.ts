// The API's resources as the app uses them (DESIGN.md, API sketch). Fields the server may not
// send yet are optional; the screens show what is there.

export interface Page<T> {
  items: T[];
  next_cursor?: string | null;
}

export interface Me {
  id: string;
  email: string;
  created_at?: string;
}

export interface ApiKey {
  id: string;
  name: string;
  prefix?: string;
  created_at?: string;
  last_used_at?: string | null;
  /** Only in the answer to create: the whole key, shown once. */
  key?: string;
  value?: string;
  secret?: string;
}

/** One security event of the caller's audit trail (`GET /auth/audit`). */
export interface AuditEvent {
  id: string;
  user: string;
  action: string;
  /** A user id, or `anonymous`. */
  actor: string;
  target: string;
  at: string;
  address: string;
  request_id: string;
  detail?: string | null;
}

export type Theme = "system" | "light" | "dark";

/** `GET|PUT /users/me/preferences`; PUT replaces the whole object. */
export interface Preferences {
  default_profile?: string | null;
  default_model?: string | null;
  theme?: Theme | null;
}

export type TemperaturePreset = "precise" | "balanced" | "creative" | "custom";

export interface Profile {
  id: string;
  name: string;
  description?: string;
  instruction_ids: string[];
  dataset_ids: string[];
  parent_ids: string[];
  default_model?: string | null;
  temperature_preset?: TemperaturePreset | null;
  temperature?: number | null;
  max_output_tokens?: number | null;
  created_at?: string;
  updated_at?: string;
  /** Increases with every change; a PATCH carrying it applies only to that version. */
  version?: number;
}

export type DocumentKind = "instructions" | "dataset";
export type DocumentStatus = "pending" | "ready" | "failed";

export interface DocumentMeta {
  id: string;
  name: string;
  kind: DocumentKind;
  media_type?: string;
  size?: number;
  content_hash?: string;
  token_count?: number | null;
  version?: number;
  status: DocumentStatus;
  /** Why extraction failed, when status is "failed". */
  failure_reason?: string | null;
  /** True when identical content was already stored (upload answer). */
  duplicate?: boolean;
  created_at?: string;
  updated_at?: string;
  profile_ids?: string[];
}

export interface ModelInfo {
  id: string;
  provider?: string;
  display_name?: string;
  context_window?: number;
  max_output_tokens?: number;
  /** USD per million tokens; null when the price is unknown (never shown as free). */
  input_price?: number | null;
  output_price?: number | null;
  cache_read_price?: number | null;
  cache_write_price?: number | null;
  available?: boolean;
  unavailable_reason?: string | null;
}

export interface ModelList {
  items: ModelInfo[];
  /** What a conversation without a model uses. */
  default_model?: string | null;
  /** No provider is configured: answers come from the documents alone. */
  offline?: boolean;
}

/** Where a cited passage comes from: offsets are characters of the document's extracted text. */
export interface Citation {
  n: number;
  document_id: string;
  document_name?: string;
  version?: number;
  heading_path?: string[];
  start?: number;
  end?: number;
}

export interface TokenUsage {
  input: number;
  output: number;
  cache_read?: number;
  cache_write?: number;
}

export interface MessageCost {
  total_usd: number;
  input_usd?: number;
  output_usd?: number;
  /** The provider reported no usage: the figures are estimates. */
  estimated?: boolean;
}

export interface ContextDocument {
  document_id: string;
  name: string;
  version?: number;
  kind: string;
  mode: string;
  tokens: number;
}

/** What was (or would be) sent to the model, by source. */
export interface ContextRecord {
  instructions_tokens: number;
  datasets_tokens: number;
  history_tokens: number;
  prompt_tokens: number;
  /** whole, retrieved or none */
  datasets_mode?: string;
  documents?: ContextDocument[];
  history_messages_dropped?: number;
  history_messages_sent?: number;
}

export interface Message {
  id: string;
  conversation_id?: string;
  parent_id?: string | null;
  role: "user" | "assistant";
  content: string;
  created_at?: string;
  model?: string | null;
  /** stop, length, stopped (by the user), error… */
  finish_reason?: string | null;
  error?: string | null;
  usage?: TokenUsage | null;
  cost?: MessageCost | null;
  context?: ContextRecord | null;
  citations?: Citation[];
  /** User messages: tokens of the text. */
  tokens?: number | null;
}

export interface Conversation {
  id: string;
  title?: string | null;
  profile_id?: string | null;
  model?: string | null;
  /** The last message of the branch the user is on. */
  head_id?: string | null;
  message_count?: number;
  created_at?: string;
  updated_at?: string;
  messages?: Message[];
}

export interface ConversationHit {
  conversation: Conversation;
  message_id?: string | null;
  snippet?: string;
  score?: number;
}

export interface Estimate {
  model: string;
  context_window: number;
  reserved_output_tokens?: number;
  context: ContextRecord;
  total_input_tokens: number;
  estimated_cost_usd: number;
  /** Prices are known for this model. */
  priced: boolean;
}

export interface UsageRow {
  /** YYYY-MM-DD */
  day: string;
  model: string;
  messages?: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
}

export interface UsageReport {
  from: string;
  to: string;
  days: UsageRow[];
  models: UsageRow[];
  total_cost_usd: number;
  total_input_tokens: number;
  total_output_tokens: number;
  month_cost_usd?: number;
  budgets?: { monthly_usd?: number; profiles?: Record<string, number> };
}
