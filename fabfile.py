"""Steadydesk's ``fab`` tasks: ``fab --list``; the tasks live in ops/ (docs/operations.md)."""

from invoke import Collection

from ops import tasks

ns = Collection(
    tasks.install,
    tasks.deploy,
    tasks.promote,
    tasks.rollback,
    tasks.restart,
    tasks.status,
    tasks.logs,
    tasks.backup,
    tasks.restore_drill,
)
ns.add_task(tasks.health_, name="health")
# A host that does not answer fails the task in seconds, not after TCP's two minutes.
ns.configure({"timeouts": {"connect": 15}})
