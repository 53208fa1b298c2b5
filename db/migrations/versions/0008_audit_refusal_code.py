"""the audit log records a refusal's reason as a code

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 23:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: rows written before this stay NULL, and /stats reads their sentence instead.
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("code", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("code")
