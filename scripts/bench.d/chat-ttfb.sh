#!/usr/bin/env bash
# Time to first byte / first token of a grounded chat message through the chat router, next to
# calling the same fake provider directly. Writes target/bench/chat-ttfb.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo run --release -q -p ragenie-chat --example chat_ttfb
