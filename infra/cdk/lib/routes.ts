//! The HTTP routes of every function, read from `infra/routes.json` (the one list that the CDK
//! app, the SAM template's tests and the Rust routers' tests all check against), and the
//! CloudFront path patterns derived from them.
import * as fs from 'node:fs';
import * as path from 'node:path';

export const FUNCTION_NAMES = [
  'ragenie-auth',
  'ragenie-users',
  'ragenie-documents',
  'ragenie-conversations',
  'ragenie-chat',
] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];

/** The function whose router is served, streaming, by its Lambda Function URL. */
export const STREAMING_FUNCTION: FunctionName = 'ragenie-chat';

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type HttpMethodName = (typeof HTTP_METHODS)[number];

export interface Route {
  readonly function: FunctionName;
  readonly method: HttpMethodName;
  readonly path: string;
}

export const ROUTES_FILE = path.resolve(__dirname, '..', '..', '..', 'routes.json');

// A path is literal segments and `{name}` parameters, as axum 0.8 and API Gateway both write it.
const PATH_RE = /^(\/([a-z0-9][a-z0-9._-]*|\{[a-z_][a-z0-9_]*\}))+$/;

/** Reads and validates routes.json; throws with the offending entry on any malformed one. */
export function loadRoutes(file: string = ROUTES_FILE): Route[] {
  const raw: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (!Array.isArray(raw)) throw new Error(`${file}: expected a JSON array of routes`);
  const seen = new Set<string>();
  return raw.map((entry, i) => {
    const where = `${file}[${i}] ${JSON.stringify(entry)}`;
    if (typeof entry !== 'object' || entry === null) throw new Error(`${where}: not an object`);
    const keys = Object.keys(entry).sort().join(',');
    if (keys !== 'function,method,path') throw new Error(`${where}: keys must be function, method, path`);
    const { function: fn, method, path: p } = entry as Record<string, unknown>;
    if (!FUNCTION_NAMES.includes(fn as FunctionName)) throw new Error(`${where}: unknown function`);
    if (!HTTP_METHODS.includes(method as HttpMethodName)) throw new Error(`${where}: unsupported method`);
    if (typeof p !== 'string' || !PATH_RE.test(p)) throw new Error(`${where}: malformed path`);
    const key = `${method} ${p}`;
    if (seen.has(key)) throw new Error(`${where}: duplicate route ${key}`);
    seen.add(key);
    return { function: fn as FunctionName, method: method as HttpMethodName, path: p };
  });
}

/** Routes served through API Gateway: all but the streaming function's (its URL serves those). */
export function apiRoutes(routes: readonly Route[]): Route[] {
  return routes.filter((r) => r.function !== STREAMING_FUNCTION);
}

export type OriginKind = 'api' | 'stream';

export interface PathBehaviour {
  readonly pattern: string;
  readonly origin: OriginKind;
}

/**
 * CloudFront cache behaviours, in evaluation order (first match wins), that send every route to
 * the right origin: the streaming function's routes to its Function URL, all others to the
 * HTTP API. A top-level segment owned only by the streaming function gets `/seg` and `/seg/*`;
 * where it shares a segment with other functions (`/conversations/{id}/messages`), its exact
 * patterns come first. CloudFront cannot route by method, so one path served by two origins
 * would be misrouted; the tests catch that.
 */
export function cloudFrontBehaviours(routes: readonly Route[]): PathBehaviour[] {
  const bySegment = new Map<string, Route[]>();
  for (const r of routes) {
    const seg = r.path.split('/')[1];
    bySegment.set(seg, [...(bySegment.get(seg) ?? []), r]);
  }
  const specific: PathBehaviour[] = [];
  const general: PathBehaviour[] = [];
  const push = (list: PathBehaviour[], b: PathBehaviour) => {
    if (!list.some((x) => x.pattern === b.pattern)) list.push(b);
  };
  for (const [seg, rs] of bySegment) {
    const streaming = rs.filter((r) => r.function === STREAMING_FUNCTION);
    const origin: OriginKind = streaming.length === rs.length ? 'stream' : 'api';
    if (origin === 'api') {
      for (const r of streaming) push(specific, { pattern: r.path.replace(/\{[^}]+\}/g, '*'), origin: 'stream' });
    }
    if (rs.some((r) => r.path === `/${seg}`)) push(general, { pattern: `/${seg}`, origin });
    if (rs.some((r) => r.path !== `/${seg}`)) push(general, { pattern: `/${seg}/*`, origin });
  }
  // Longer (more literal) patterns first, so `/conversations/*/messages/*/regenerate` is tried
  // before anything shorter that would also match it.
  specific.sort((a, b) => b.pattern.length - a.pattern.length);
  return [...specific, ...general];
}

/** CloudFront path-pattern matching: `*` is any run of characters (slashes too), `?` one. */
export function cloudFrontMatches(pattern: string, urlPath: string): boolean {
  const re = new RegExp(
    '^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$',
  );
  return re.test(urlPath);
}

/** A concrete request path for a route: each `{param}` replaced by a sample value. */
export function samplePath(route: Route): string {
  return route.path.replace(/\{[^}]+\}/g, '01JDQ4Z8ZKX3V9S5R2T7W6Y0AB');
}
