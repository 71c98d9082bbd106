// Errors from the API (RFC 9457 problem+json) and from the network, turned into one error type
// whose message a person can read.

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  field?: string;
  /** `urn:ragenie:request:<id>`: the request, as its log lines and `x-request-id` name it. */
  instance?: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;
  /** Seconds to wait, from Retry-After on a 429 or 503. */
  readonly retryAfter?: number;

  constructor(status: number, problem: Problem, retryAfter?: number) {
    super(describeProblem(status, problem, retryAfter));
    this.name = "ApiError";
    this.status = status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }

  get field(): string | undefined {
    return this.problem.field;
  }

  /** The request id to quote when reporting this error. */
  get requestId(): string | undefined {
    return this.problem.instance?.replace(/^urn:ragenie:request:/, "") || undefined;
  }
}

/** The fetch itself failed: no answer from the server at all. */
export class NetworkError extends Error {
  constructor(cause?: unknown) {
    super("Cannot reach the RaGenie server. Check your connection and try again.");
    this.name = "NetworkError";
    this.cause = cause;
  }
}

const GENERIC: Record<number, string> = {
  400: "The request was not understood",
  401: "Your session has ended; sign in again",
  403: "You are not allowed to do that",
  404: "Not found",
  405: "This action is not available on the server yet",
  409: "That conflicts with an existing item",
  413: "That is too large",
  415: "That file type is not supported",
  422: "Some of what you entered is not valid",
  429: "Too many attempts",
  500: "Something went wrong on the server",
  501: "This is not implemented on the server yet",
  502: "An upstream service failed (bad gateway)",
  503: "The service is unavailable right now",
  504: "The server took too long to answer",
};

function sentence(s: string): string {
  const t = s.trim();
  if (!t) return t;
  return t[0].toUpperCase() + t.slice(1);
}

export function describeProblem(status: number, problem: Problem, retryAfter?: number): string {
  const base = problem.detail?.trim() || problem.title?.trim() || GENERIC[status] || `Request failed (HTTP ${status})`;
  let text = sentence(base);
  if (problem.field && problem.field !== "body" && !text.toLowerCase().startsWith(problem.field.toLowerCase())) {
    text = `${problem.field}: ${base}`;
  }
  if (retryAfter !== undefined && retryAfter > 0) {
    text += ` (try again in ${retryAfter} s)`;
  }
  return text;
}

function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const when = Date.parse(value);
  if (Number.isNaN(when)) return undefined;
  return Math.max(0, Math.ceil((when - Date.now()) / 1000));
}

/** Builds an ApiError from a failed response, whatever its body is. */
export async function errorFromResponse(response: Response): Promise<ApiError> {
  const retryAfter = parseRetryAfter(response.headers.get("Retry-After"));
  const type = response.headers.get("Content-Type") ?? "";
  let problem: Problem = {};
  try {
    const text = await response.text();
    problem = problemFromText(text, type);
  } catch {
    // body unreadable: fall back to the status
  }
  return new ApiError(response.status, problem, retryAfter);
}

export function problemFromText(text: string, contentType: string): Problem {
  if (contentType.includes("json") || /^\s*\{/.test(text)) {
    try {
      const body = JSON.parse(text) as unknown;
      if (body && typeof body === "object") {
        const b = body as Record<string, unknown>;
        // problem+json; or the OpenAI shape {"error":{"message"}} some endpoints may answer with.
        const nested = b.error && typeof b.error === "object" ? (b.error as Record<string, unknown>) : undefined;
        return {
          type: typeof b.type === "string" ? b.type : undefined,
          title: typeof b.title === "string" ? b.title : undefined,
          status: typeof b.status === "number" ? b.status : undefined,
          detail:
            typeof b.detail === "string"
              ? b.detail
              : typeof nested?.message === "string"
                ? nested.message
                : typeof b.message === "string"
                  ? b.message
                  : undefined,
          field: typeof b.field === "string" ? b.field : undefined,
          instance: typeof b.instance === "string" ? b.instance : undefined,
        };
      }
    } catch {
      // not JSON after all
    }
  }
  const plain = text.trim();
  // An HTML error page says nothing useful to a person; a short plain text does.
  if (plain && plain.length < 300 && !plain.startsWith("<")) return { detail: plain };
  return {};
}

/** The readable message of anything thrown. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  if (typeof e === "string") return e;
  return "Something went wrong";
}

export function isAbort(e: unknown): boolean {
  return e instanceof DOMException ? e.name === "AbortError" : (e as { name?: string })?.name === "AbortError";
}
