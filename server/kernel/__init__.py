"""The kernel under the domain: who acts (``actors``), the domain's enums (``enums``) and
the bus's topic names (``topics``). Pure Python: no peewee, no sanic, no I/O, and nothing
else of ``server`` (setup.cfg's ``kernel-pure`` contract), so every layer may use it."""
