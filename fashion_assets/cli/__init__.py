"""Command-line tools: what the make targets run (the quiet job runner ``run``, and more to come).

A tool may import the definitions, Dagster's public API and ``core``; nothing in ``assets``,
``core`` or the Dagster wiring imports a tool.
"""
