"""The muse: the editor's AI writing companion, which asks, suggests and critiques (issue #8).

``base`` holds the modes, the prompt and the backend protocol; ``prompts`` builds a prompt from
the draft and the creator's earlier work; ``voice`` picks the passages of that earlier work the
prompt quotes; ``record`` says what the journal did with each suggestion; ``backends`` holds the
built-in backends (the bundled SmolLM2, any OpenAI-compatible chat server). All but
``backends`` are pure: no database, no web, no model.
"""
