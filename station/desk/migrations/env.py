"""Alembic environment: the desk hands over an open connection (see ``station.desk.db``)."""

from alembic import context

from station.desk.db import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
