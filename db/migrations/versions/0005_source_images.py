"""source images of remixes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 18:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "source_images",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("png", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest"),
    )
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("source_digest", sa.String(length=64), nullable=True))
        batch.create_index("ix_jobs_source_digest", ["source_digest"])


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_source_digest")
        batch.drop_column("source_digest")
    op.drop_table("source_images")
