import { render } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { ReflowTable } from "./ReflowTable";

describe("ReflowTable", () => {
  it("labels every body cell with its column's header, and none for a header only screen readers see", () => {
    const { container, rerender } = render(
      <ReflowTable>
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th className="num">Tokens</th>
              <th>
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            <tr>
              <td>a.md</td>
              <td>12</td>
              <td>
                <button type="button">Delete</button>
              </td>
            </tr>
          </tbody>
        </table>
      </ReflowTable>,
    );
    const labels = () => [...container.querySelectorAll("tbody tr")].map((tr) => [...tr.children].map((td) => (td as HTMLElement).dataset.label));
    expect(container.querySelector(".table-wrap.reflow")).not.toBeNull();
    expect(labels()).toEqual([["Name", "Tokens", ""]]);

    // Rows added later are labelled too.
    rerender(
      <ReflowTable>
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>Tokens</th>
            </tr>
          </thead>
          <tbody>
            <tr>
              <td>a.md</td>
              <td>12</td>
            </tr>
            <tr>
              <td>b.md</td>
              <td>7</td>
            </tr>
          </tbody>
        </table>
      </ReflowTable>,
    );
    expect(labels()).toEqual([
      ["Name", "Tokens"],
      ["Name", "Tokens"],
    ]);
  });
});
