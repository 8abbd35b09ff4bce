"""Operator tools: replay from offsets, dead-letter inspection and redrive, contract export.

The command line (``utxoiq replay``, ``utxoiq dlq``, ``utxoiq schemas``) is a thin layer
over these functions; each takes the service's ``Settings`` and can be called directly.
"""
