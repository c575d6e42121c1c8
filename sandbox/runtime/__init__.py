"""Coldstart's Lambda runtime emulator: the only code that runs inside the jail.

It imports the standard library only (boto3 and moto lazily, in ``awsmock``) and
nothing from Django or the rest of the project; ``bootstrap.py`` is the entry
point and ``docs/runtime-protocol.md`` the contract with the worker.
"""
