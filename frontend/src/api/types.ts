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
  name?: string;
  context_window?: number;
  max_output_tokens?: number;
  /** USD per million tokens. */
  input_price?: number;
  output_price?: number;
  input_per_mtok?: number;
  output_per_mtok?: number;
  prices?: { input?: number; output?: number; cache_read?: number; cache_write?: number };
  available?: boolean;
  offline?: boolean;
  retrieval_only?: boolean;
}

export interface ModelList {
  items?: ModelInfo[];
  data?: ModelInfo[];
  offline?: boolean;
  providers?: Record<string, boolean | string> | string[];
  default_model?: string | null;
}

export interface Citation {
  n?: number;
  index?: number;
  document_id?: string;
  document_name?: string;
  version?: number;
  heading?: string | string[];
  heading_path?: string[];
  start?: number;
  end?: number;
  char_start?: number;
  char_end?: number;
  snippet?: string;
  text?: string;
}

export interface Usage {
  input_tokens?: number;
  output_tokens?: number;
  total_tokens?: number;
  cost?: number;
  cost_usd?: number;
  estimated?: boolean;
}

export interface Message {
  id: string;
  parent_id?: string | null;
  role: "user" | "assistant" | "system";
  content: string;
  model?: string | null;
  created_at?: string;
  finish_reason?: string | null;
  usage?: Usage | null;
  input_tokens?: number;
  output_tokens?: number;
  cost?: number;
  cost_usd?: number;
  citations?: Citation[];
  context?: unknown;
  status?: string;
}

export interface Conversation {
  id: string;
  title?: string | null;
  profile_id?: string | null;
  model?: string | null;
  created_at?: string;
  updated_at?: string;
  messages?: Message[];
}

export interface ConversationHit extends Conversation {
  snippet?: string;
  conversation_id?: string;
}

export interface Estimate {
  tokens?: Partial<Record<"instructions" | "datasets" | "history" | "prompt", number>> & Record<string, number>;
  by_source?: Record<string, number>;
  total_tokens?: number;
  input_tokens?: number;
  cost?: number;
  cost_usd?: number;
  estimated_cost?: number;
  context_window?: number;
  fits?: boolean;
}

export interface UsageRow {
  day?: string;
  date?: string;
  model?: string;
  input_tokens?: number;
  output_tokens?: number;
  tokens?: number;
  cost?: number;
  cost_usd?: number;
  messages?: number;
}

export interface UsageReport {
  by_day?: UsageRow[];
  by_model?: UsageRow[];
  days?: UsageRow[];
  models?: UsageRow[];
  total?: UsageRow;
  totals?: UsageRow;
}
