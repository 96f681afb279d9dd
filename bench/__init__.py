"""``make bench``: return creations per second and ``returnable`` latency, SQLite and PostgreSQL."""
