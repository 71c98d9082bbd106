import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "../../api/client";
import { installFetch, json } from "../../test/fakeFetch";
import { Composer } from "./Composer";

function Harness({ onSend, streaming = false, onStop = () => undefined }: { onSend: (v: string) => void; streaming?: boolean; onStop?: () => void }) {
  const [value, setValue] = useState("");
  return (
    <Composer
      value={value}
      onChange={setValue}
      onSend={() => onSend(value)}
      onStop={onStop}
      streaming={streaming}
      estimateFor={{ profile_id: "p1", model: "gpt-test" }}
    />
  );
}

afterEach(() => {
  vi.unstubAllGlobals();
  api.setTokens(null);
});

describe("Composer", () => {
  it("sends on Enter and adds a line on Shift+Enter", async () => {
    installFetch({ "POST /chat/estimate": () => json(200, {}) });
    const sent: string[] = [];
    render(<Harness onSend={(v) => sent.push(v)} />);
    const user = userEvent.setup();
    const box = screen.getByLabelText("Message");
    await user.type(box, "first line{Shift>}{Enter}{/Shift}second");
    expect(sent).toEqual([]);
    expect((box as HTMLTextAreaElement).value).toBe("first line\nsecond");
    await user.keyboard("{Enter}");
    expect(sent).toEqual(["first line\nsecond"]);
  });

  it("shows tokens by source and the estimated cost from the server", async () => {
    api.setTokens({ access_token: "a", refresh_token: "r" });
    const { calls } = installFetch({
      "POST /chat/estimate": () =>
        json(200, {
          model: "gpt-test",
          context_window: 128000,
          reserved_output_tokens: 4096,
          context: { instructions_tokens: 1200, datasets_tokens: 30000, history_tokens: 0, prompt_tokens: 7, datasets_mode: "whole" },
          total_input_tokens: 31207,
          estimated_cost_usd: 0.0781,
          priced: true,
        }),
    });
    render(<Harness onSend={() => undefined} />);
    await userEvent.setup().type(screen.getByLabelText("Message"), "What is RAG?");
    const estimate = screen.getByTestId("estimate");
    await vi.waitFor(() => expect(estimate.textContent).toContain("$0.078"), { timeout: 10_000 });
    expect(estimate.textContent).toContain("instructions 1,200");
    expect(estimate.textContent).toContain("datasets 30k (whole)");
    expect(estimate.textContent).toContain("total 31k");
    const last = calls[calls.length - 1];
    expect(last.body).toEqual({ profile_id: "p1", model: "gpt-test", content: "What is RAG?" });
  });

  it("offers Stop while an answer streams, and Escape stops it", async () => {
    installFetch({});
    const stop = vi.fn();
    render(<Harness onSend={() => undefined} streaming onStop={stop} />);
    const user = userEvent.setup();
    await user.click(screen.getByLabelText("Message"));
    await user.keyboard("{Escape}");
    await user.click(screen.getByRole("button", { name: /Stop/ }));
    expect(stop).toHaveBeenCalledTimes(2);
  });
});
