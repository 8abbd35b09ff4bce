"""The write stage: one module per pipeline, each a pure reduce plus a bulk merge."""
