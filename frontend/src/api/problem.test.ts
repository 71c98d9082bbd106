import { describe, expect, it } from "vitest";
import { ApiError, describeProblem, errorFromResponse, problemFromText } from "./problem";

function response(status: number, body: string, headers: Record<string, string> = {}) {
  return new Response(body, { status, headers });
}

describe("problem+json errors", () => {
  it("uses the detail of a problem+json body", async () => {
    const e = await errorFromResponse(
      response(
        409,
        JSON.stringify({ type: "urn:ragenie:problem:conflict", title: "Conflict", status: 409, detail: "this email is already registered" }),
        { "Content-Type": "application/problem+json" },
      ),
    );
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(409);
    expect(e.message).toBe("This email is already registered");
    expect(e.problem.type).toBe("urn:ragenie:problem:conflict");
  });

  it("reads the request id from the problem's instance", async () => {
    const e = await errorFromResponse(
      response(500, JSON.stringify({ title: "Internal Server Error", status: 500, detail: "logged", instance: "urn:ragenie:request:01JABCDEF" }), {
        "Content-Type": "application/problem+json",
      }),
    );
    expect((e as ApiError).requestId).toBe("01JABCDEF");
  });

  it("names the field of a validation problem", async () => {
    const e = await errorFromResponse(
      response(422, JSON.stringify({ title: "Unprocessable Entity", status: 422, detail: "must be at least 12 characters", field: "password" }), {
        "Content-Type": "application/problem+json",
      }),
    );
    expect(e.message).toBe("password: must be at least 12 characters");
    expect(e.field).toBe("password");
  });

  it("adds Retry-After to a 429", async () => {
    const e = await errorFromResponse(
      response(429, JSON.stringify({ title: "Too Many Requests", status: 429, detail: "too many login attempts" }), {
        "Content-Type": "application/problem+json",
        "Retry-After": "30",
      }),
    );
    expect(e.retryAfter).toBe(30);
    expect(e.message).toBe("Too many login attempts (try again in 30 s)");
  });

  it("falls back to the title, then to a sentence for the status", async () => {
    expect(describeProblem(404, { title: "Not Found" })).toBe("Not Found");
    const e = await errorFromResponse(response(502, "<html><body>Bad gateway</body></html>", { "Content-Type": "text/html" }));
    expect(e.message).toBe("An upstream service failed (bad gateway)");
    expect(describeProblem(418, {})).toBe("Request failed (HTTP 418)");
  });

  it("reads the OpenAI error shape and short plain text", () => {
    expect(problemFromText('{"error":{"message":"bad key"}}', "application/json").detail).toBe("bad key");
    expect(problemFromText("upstream timed out", "text/plain").detail).toBe("upstream timed out");
  });
});
