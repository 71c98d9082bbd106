//! Integration tests against an AWS emulator live in `tests/`; `run.sh` starts the emulator.
