"""foundation: grids, people, tokens, sessions

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 07:40:06.862605
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import app.db


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_failure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failure'))
    )
    with op.batch_alter_table('login_failure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_failure_key'), ['key'], unique=False)

    op.create_table('person',
    sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_person')),
    sa.UniqueConstraint('phone', name=op.f('uq_person_phone'))
    )
    op.create_table('auth_session',
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('csrf_token', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_auth_session_person_id_person')),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_auth_session'))
    )
    with op.batch_alter_table('auth_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auth_session_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_auth_session_person_id'), ['person_id'], unique=False)

    op.create_table('grid',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('level', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('backup_id', sa.Integer(), nullable=True),
    sa.Column('office_phone', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['backup_id'], ['person.id'], name=op.f('fk_grid_backup_id_person')),
    sa.ForeignKeyConstraint(['contact_id'], ['person.id'], name=op.f('fk_grid_contact_id_person')),
    sa.ForeignKeyConstraint(['parent_id'], ['grid.id'], name=op.f('fk_grid_parent_id_grid')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grid')),
    sa.UniqueConstraint('code', name=op.f('uq_grid_code'))
    )
    with op.batch_alter_table('grid', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grid_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_grid_parent_id'), ['parent_id'], unique=False)

    op.create_table('grid_token',
    sa.Column('token', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('replaced_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['grid_id'], ['grid.id'], name=op.f('fk_grid_token_grid_id_grid')),
    sa.PrimaryKeyConstraint('token', name=op.f('pk_grid_token'))
    )
    with op.batch_alter_table('grid_token', schema=None) as batch_op:
        batch_op.create_index('ix_grid_token_grid_id_current', ['grid_id', 'replaced_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('grid_token', schema=None) as batch_op:
        batch_op.drop_index('ix_grid_token_grid_id_current')

    op.drop_table('grid_token')
    with op.batch_alter_table('grid', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grid_parent_id'))
        batch_op.drop_index(batch_op.f('ix_grid_contact_id'))

    op.drop_table('grid')
    with op.batch_alter_table('auth_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auth_session_person_id'))
        batch_op.drop_index(batch_op.f('ix_auth_session_expires_at'))

    op.drop_table('auth_session')
    op.drop_table('person')
    with op.batch_alter_table('login_failure', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_failure_key'))

    op.drop_table('login_failure')
