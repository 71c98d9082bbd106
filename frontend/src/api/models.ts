// The API's resources under the names the app uses, every one taken from the types generated
// from the server's OpenAPI document (types.ts, `npm run gen:api`): nothing here is guessed.

import type { components } from "./types";

type Schemas = components["schemas"];

/** A page of a list endpoint. */
export interface Page<T> {
  items: T[];
  next_cursor?: string | null;
}

export type Me = Schemas["User"];
export type ApiKey = Schemas["ApiKeySummary"];
/** The answer to creating a key: the summary and, this once, the key itself. */
export type CreatedApiKey = Schemas["CreatedApiKey"];
/** One security event of the caller's audit trail (`GET /auth/audit`). */
export type AuditEvent = Schemas["AuditEvent"];
/** A signed-in session of the caller (`GET /auth/sessions`). */
export type Session = Schemas["SessionSummary"];
/** The answer to deleting the account: what was removed. */
export type AccountDeleted = Schemas["AccountDeleted"];
export type Theme = Schemas["Theme"];
export type Preferences = Schemas["Preferences"];
export type TemperaturePreset = Schemas["TemperaturePreset"];
export type Profile = Schemas["Profile"];
export type NewProfile = Schemas["NewProfile"];
export type ProfilePatch = Schemas["ProfilePatch"];
export type DocumentKind = Schemas["DocumentKind"];
export type DocumentStatus = Schemas["DocumentStatus"];
export type DocumentMeta = Schemas["Document"];
export type FolderSummary = Schemas["FolderSummary"];
/** One call of a folder rename or move: how many documents moved and how many remain. */
export type FolderMove = Schemas["FolderMove"];
export type Attachment = Schemas["Attachment"];
/** The answer to an upload: the document, and whether identical content was already stored. */
export type UploadResult = Schemas["UploadResult"];
export type PendingUpload = Schemas["PendingUpload"];
/** Re-indexing with the configured embedding model (`GET /documents/reindex`). */
export type ReindexProgress = Schemas["ReindexProgress"];
export type ModelInfo = Schemas["ModelInfo"];
export type ModelList = Schemas["ModelList"];
export type Citation = Schemas["Citation"];
export type TokenUsage = Schemas["TokenUsage"];
export type MessageCost = Schemas["MessageCost"];
export type ContextDocument = Schemas["ContextDocument"];
export type ContextRecord = Schemas["ContextRecord"];
export type Message = Schemas["Message"];
/** A conversation; `GET /conversations/{id}` (ConversationDetail) also carries its messages. */
export type Conversation = Schemas["Conversation"] & Partial<Pick<Schemas["ConversationDetail"], "messages">>;
export type ConversationDetail = Schemas["ConversationDetail"];
export type ConversationHit = Schemas["ConversationHit"];
export type Estimate = Schemas["Estimate"];
export type UsageKind = Schemas["UsageKind"];
export type UsageRow = Schemas["UsageRow"];
export type UsageReport = Schemas["UsageReport"];
export type Budgets = Schemas["Budgets"];
/** One Server-Sent Event of a streamed answer; `event` names it. */
export type StreamEvent = Schemas["ChatEvent"];
/** The event names the server sends. */
export type StreamEventName = StreamEvent["event"];

/** An account as the admin console lists it, with this month's spending. */
export type AdminUser = Schemas["AdminUserView"];
export type AccountStatus = Schemas["AccountStatus"];
export type Role = Schemas["Role"];
export type UserChange = Schemas["UserChange"];
export type RegistrationPolicy = Schemas["RegistrationPolicy"];
/** Who may sign up, the default quota and the per-user limits. */
export type OperatorSettings = Schemas["OperatorSettings"];
export type Invite = Schemas["Invite"];
/** An invite just created: its token is shown this once. */
export type CreatedInvite = Schemas["CreatedInvite"];
export type OperatorUsage = Schemas["OperatorUsage"];
export type OperatorUsageRow = Schemas["OperatorUsageRow"];
/** A one-time password-reset link an admin passes on. */
export type ResetLink = Schemas["ResetLink"];
/** A chat model as admins manage it (catalog or added). */
export type AdminModel = Schemas["AdminModel"];
export type NewModel = Schemas["NewModel"];
export type ModelChange = Schemas["ModelChange"];
