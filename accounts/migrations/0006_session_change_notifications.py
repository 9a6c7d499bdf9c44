"""On PostgreSQL, Django's session table tells every listener which session changed.

copies.postgres_sessions keeps a per-process copy of database sessions; these triggers are how
PostgreSQL says that a copy is wrong. A notification on `authdemo_session_changed` for
every session row updated or deleted (by anyone: the site, the admin, `clearsessions`,
psql), with the SHA-256 of the session key as payload, and "*" (every copy) for a TRUNCATE
or a statement that changes more than MANY rows. Nothing on other databases (SQLite has
no notifications; the copies are off there).
"""

from django.db import migrations

# Statement-level triggers with transition tables: one call per statement, and a statement
# that changes more than MANY sessions (a bulk delete by `prune_auth` or `clearsessions`)
# sends one "*" instead of a notification per row.
MANY = 100
CREATE = f"""
CREATE FUNCTION authdemo_sessions_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN  -- no transition table: ask nothing of it
        PERFORM pg_notify('authdemo_session_changed', '*');
    ELSIF (SELECT count(*) FROM changed) > {MANY} THEN
        PERFORM pg_notify('authdemo_session_changed', '*');
    ELSE
        PERFORM pg_notify('authdemo_session_changed', encode(sha256(convert_to(session_key, 'UTF8')), 'hex'))
        FROM changed;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER authdemo_sessions_updated AFTER UPDATE ON django_session
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION authdemo_sessions_changed();
CREATE TRIGGER authdemo_sessions_deleted AFTER DELETE ON django_session
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION authdemo_sessions_changed();
CREATE TRIGGER authdemo_sessions_truncated AFTER TRUNCATE ON django_session
    FOR EACH STATEMENT EXECUTE FUNCTION authdemo_sessions_changed();
"""
DROP = """
DROP TRIGGER IF EXISTS authdemo_sessions_truncated ON django_session;
DROP TRIGGER IF EXISTS authdemo_sessions_deleted ON django_session;
DROP TRIGGER IF EXISTS authdemo_sessions_updated ON django_session;
DROP FUNCTION IF EXISTS authdemo_sessions_changed();
"""


def _on_postgresql(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_access_cutoff"), ("sessions", "0001_initial")]

    operations = [migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP), elidable=False)]
