"""drop case_recipient's case_id index: its unique (case_id, person_id) constraint already leads with case_id

Every lookup of recipients by case (ack, contact, the sweep's batch load) uses the unique index; the separate
one only cost an index insert for every recipient written (two per report, inside the write lock).
case_step keeps its case_id index: without statistics SQLite would answer "case_id = ? AND state = ?" from
the (state, due_at) index instead, a scan of every pending step.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 17:40:00
"""

from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case_recipient', schema=None) as batch_op:
        batch_op.drop_index('ix_case_recipient_case_id')


def downgrade() -> None:
    with op.batch_alter_table('case_recipient', schema=None) as batch_op:
        batch_op.create_index('ix_case_recipient_case_id', ['case_id'], unique=False)
