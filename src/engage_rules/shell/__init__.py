"""The I/O shell of replays: reading event files, running the engine with a store, and
writing the actions."""
