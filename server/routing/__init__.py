"""Queue, assignment, transfer and agent presence."""
