// The options of the pickers that choose a profile or a model (chat, documents, profiles,
// settings): one option each, by id; the picker adds its own first option ("None", "All"…).

import type { ModelInfo } from "../api/models";

/** One option per profile, showing its name. */
export function ProfileOptions({ profiles }: { profiles: readonly { id: string; name: string }[] }) {
  return profiles.map((p) => (
    <option key={p.id} value={p.id}>
      {p.name}
    </option>
  ));
}

/** One option per model, showing its display name (its id when it has none). */
export function ModelOptions({ models }: { models: readonly ModelInfo[] }) {
  return models.map((m) => (
    <option key={m.id} value={m.id}>
      {m.display_name ?? m.id}
    </option>
  ));
}
