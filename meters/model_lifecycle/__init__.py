"""The model lifecycle (docs/model-lifecycle.md): scheduled training runs recorded with their data
window and artifact digest, a candidate in shadow beside the promoted model, the promotion rule,
promotion, refusal and rollback, each audited in the transaction that moves the pointer.

The artifacts stay in the file registry (meters/model_registry.py); the records are in PostgreSQL
(schema model_registry, migrations/ here).
"""

from pathlib import Path

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
