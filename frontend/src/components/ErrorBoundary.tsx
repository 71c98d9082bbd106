// Never a blank screen: a render error shows what happened and a way back.

import { Component, type ErrorInfo, type ReactNode } from "react";

interface Props {
  children: ReactNode;
  /** Changing it clears the error (e.g. the route), so navigating away recovers. */
  resetKey?: unknown;
}

interface State {
  error: Error | null;
}

export class ErrorBoundary extends Component<Props, State> {
  state: State = { error: null };

  static getDerivedStateFromError(error: Error): State {
    return { error };
  }

  componentDidCatch(error: Error, info: ErrorInfo) {
    console.error("RaGenie screen error", error, info.componentStack);
  }

  componentDidUpdate(prev: Props) {
    if (this.state.error && prev.resetKey !== this.props.resetKey) this.setState({ error: null });
  }

  render() {
    const { error } = this.state;
    if (!error) return this.props.children;
    const chunkFailed = /dynamically imported module|Loading chunk|Importing a module script failed/i.test(error.message);
    return (
      <div role="alert" className="error-screen">
        <h2>{chunkFailed ? "RaGenie was updated" : "This screen hit a problem"}</h2>
        <p>
          {chunkFailed
            ? "Part of the app could not be loaded, probably because a newer version was deployed. Reload to get it."
            : error.message || "An unexpected error occurred."}
        </p>
        <div className="row">
          <button type="button" onClick={() => this.setState({ error: null })}>
            Try again
          </button>
          <button type="button" className="secondary" onClick={() => window.location.reload()}>
            Reload the page
          </button>
        </div>
      </div>
    );
  }
}
