// Messages form a tree (edit and regenerate add siblings); the screen shows one path through
// it, choosing at each fork the sibling the user picked, or the newest.

import type { Message } from "../../api/models";

export const ROOT = "";

export interface PathStep {
  message: Message;
  /** This message and its siblings, oldest first. */
  siblings: Message[];
  index: number;
}

export function childrenByParent(messages: Message[]): Map<string, Message[]> {
  const map = new Map<string, Message[]>();
  const ids = new Set(messages.map((m) => m.id));
  messages.forEach((m) => {
    // A parent that is not in the list (e.g. a system message not sent) counts as the root.
    const parent = m.parent_id && ids.has(m.parent_id) ? m.parent_id : ROOT;
    const list = map.get(parent);
    if (list) list.push(m);
    else map.set(parent, [m]);
  });
  for (const list of map.values()) list.sort(byCreation);
  return map;
}

function byCreation(a: Message, b: Message): number {
  if (a.created_at && b.created_at && a.created_at !== b.created_at) return a.created_at < b.created_at ? -1 : 1;
  // ULIDs sort by time as well.
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * The path shown: at each fork the sibling the user selected (by parent id), else the one on the
 * way to `headId` (the branch the conversation is on), else the newest.
 */
export function activePath(messages: Message[], selection: Record<string, number> = {}, headId?: string | null): PathStep[] {
  const children = childrenByParent(messages);
  const byId = new Map(messages.map((m) => [m.id, m]));
  const onHeadPath = new Set<string>();
  for (let m = headId ? byId.get(headId) : undefined; m && !onHeadPath.has(m.id); m = m.parent_id ? byId.get(m.parent_id) : undefined) {
    onHeadPath.add(m.id);
  }
  const path: PathStep[] = [];
  let parent = ROOT;
  const seen = new Set<string>();
  for (;;) {
    const siblings = children.get(parent);
    if (!siblings || siblings.length === 0) break;
    const wanted = selection[parent];
    const onHead = siblings.findIndex((m) => onHeadPath.has(m.id));
    const index =
      wanted !== undefined && wanted >= 0 && wanted < siblings.length ? wanted : onHead !== -1 ? onHead : siblings.length - 1;
    const message = siblings[index];
    if (seen.has(message.id)) break; // a cycle would be a server bug; never loop forever
    seen.add(message.id);
    path.push({ message, siblings, index });
    parent = message.id;
  }
  return path;
}

/** The key a message's fork is selected by. */
export function parentKey(m: Pick<Message, "parent_id">, messages: Message[]): string {
  return m.parent_id && messages.some((x) => x.id === m.parent_id) ? m.parent_id : ROOT;
}
