"""escalation and paging

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 07:59:11.420678
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import app.db


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('push_subscription',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('endpoint', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('p256dh', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('auth', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_push_subscription_person_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_subscription')),
    sa.UniqueConstraint('endpoint', name=op.f('uq_push_subscription_endpoint'))
    )
    with op.batch_alter_table('push_subscription', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_push_subscription_person_id'), ['person_id'], unique=False)

    op.create_table('case_escalation',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('policy', sa.JSON(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('assigned_person_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['assigned_person_id'], ['person.id'], name=op.f('fk_case_escalation_assigned_person_id_person')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_escalation_case_id_cases')),
    sa.PrimaryKeyConstraint('case_id', name=op.f('pk_case_escalation'))
    )
    op.create_table('case_recipient',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('ack_token', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('acked_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_recipient_case_id_cases')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_case_recipient_person_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_recipient')),
    sa.UniqueConstraint('ack_token', name=op.f('uq_case_recipient_ack_token')),
    sa.UniqueConstraint('case_id', 'person_id', name=op.f('uq_case_recipient_case_id_person_id'))
    )
    with op.batch_alter_table('case_recipient', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_recipient_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_recipient_person_id'), ['person_id'], unique=False)

    op.create_table('case_step',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('due_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('done_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_step_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_step')),
    sa.UniqueConstraint('case_id', 'kind', 'level', 'person_id', 'seq', name=op.f('uq_case_step_case_id_kind_level_person_id_seq'))
    )
    with op.batch_alter_table('case_step', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_step_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_case_step_state_due_at', ['state', 'due_at'], unique=False)

    op.create_table('contact_view',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('via', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_contact_view_case_id_cases')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_contact_view_person_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_view'))
    )
    with op.batch_alter_table('contact_view', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_view_case_id'), ['case_id'], unique=False)

    op.create_table('notification',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=True),
    sa.Column('recipient_key', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('endpoint', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_notification_case_id_cases')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_notification_person_id_person')),
    sa.ForeignKeyConstraint(['step_id'], ['case_step.id'], name=op.f('fk_notification_step_id_case_step')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification')),
    sa.UniqueConstraint('step_id', 'recipient_key', name=op.f('uq_notification_step_id_recipient_key'))
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_notification_state_next_attempt_at', ['state', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_notification_phone_delivered_at', ['phone', 'delivered_at'], unique=False)

    op.create_table('delivery_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notification_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('latency_ms', sa.Float(), nullable=True),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['notification_id'], ['notification.id'], name=op.f('fk_delivery_attempt_notification_id_notification')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_attempt'))
    )
    with op.batch_alter_table('delivery_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_attempt_notification_id'), ['notification_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('delivery_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivery_attempt_notification_id'))

    op.drop_table('delivery_attempt')
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_phone_delivered_at')
        batch_op.drop_index('ix_notification_state_next_attempt_at')
        batch_op.drop_index(batch_op.f('ix_notification_case_id'))

    op.drop_table('notification')
    with op.batch_alter_table('contact_view', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_view_case_id'))

    op.drop_table('contact_view')
    with op.batch_alter_table('case_step', schema=None) as batch_op:
        batch_op.drop_index('ix_case_step_state_due_at')
        batch_op.drop_index(batch_op.f('ix_case_step_case_id'))

    op.drop_table('case_step')
    with op.batch_alter_table('case_recipient', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_recipient_person_id'))
        batch_op.drop_index(batch_op.f('ix_case_recipient_case_id'))

    op.drop_table('case_recipient')
    op.drop_table('case_escalation')
    with op.batch_alter_table('push_subscription', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_push_subscription_person_id'))

    op.drop_table('push_subscription')
