"""Subcommands of the ``statecast`` command, one module each.

Each module exposes ``register(subparsers)`` which adds its parser and sets
``handler`` (a callable taking the parsed namespace and returning an exit code).
"""
