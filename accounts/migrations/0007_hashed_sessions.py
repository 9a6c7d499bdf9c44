"""Sessions stored under the SHA-256 of their keys: a dump of a table authenticates nobody.

- accounts.HashedSession: the database sessions (db, cached_db), keyed by the hex SHA-256 of
  the cookie's key in a 64-character column (Django's `django_session` keeps the key itself,
  in 40 characters).
- On PostgreSQL, the triggers of accounts.0006 move from `django_session` to the new table,
  with the same names; the payload is now the row's key as it is (it already is the digest).
- The registry's key column (accounts.UserSession) grows to 64 characters for the digest.

The sessions themselves move in accounts.0008 (a migration of its own: PostgreSQL cannot
alter a table with row changes pending in the same transaction, as going back would).
"""

from django.db import migrations, models

MANY = 100  # as accounts.0006
NOTIFY = """
CREATE OR REPLACE FUNCTION authdemo_sessions_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN  -- no transition table: ask nothing of it
        PERFORM pg_notify('authdemo_session_changed', '*');
    ELSIF (SELECT count(*) FROM changed) > {many} THEN
        PERFORM pg_notify('authdemo_session_changed', '*');
    ELSE
        PERFORM pg_notify('authdemo_session_changed', {payload}) FROM changed;
    END IF;
    RETURN NULL;
END
$$;
"""
TRIGGERS = """
CREATE TRIGGER authdemo_sessions_updated AFTER UPDATE ON {table}
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION authdemo_sessions_changed();
CREATE TRIGGER authdemo_sessions_deleted AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION authdemo_sessions_changed();
CREATE TRIGGER authdemo_sessions_truncated AFTER TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION authdemo_sessions_changed();
"""
DROP_TRIGGERS = """
DROP TRIGGER IF EXISTS authdemo_sessions_truncated ON {table};
DROP TRIGGER IF EXISTS authdemo_sessions_deleted ON {table};
DROP TRIGGER IF EXISTS authdemo_sessions_updated ON {table};
"""
OLD_PAYLOAD = "encode(sha256(convert_to(session_key, 'UTF8')), 'hex')"  # accounts.0006
FORWARD = (
    DROP_TRIGGERS.format(table="django_session")
    + NOTIFY.format(many=MANY, payload="session_key")
    + TRIGGERS.format(table="accounts_hashedsession")
)
BACKWARD = (
    DROP_TRIGGERS.format(table="accounts_hashedsession")
    + NOTIFY.format(many=MANY, payload=OLD_PAYLOAD)
    + TRIGGERS.format(table="django_session")
)


def _on_postgresql(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("accounts", "0006_session_change_notifications"), ("sessions", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="HashedSession",
            fields=[
                (
                    "session_key",
                    models.CharField(max_length=64, primary_key=True, serialize=False, verbose_name="session key hash"),
                ),
                ("session_data", models.TextField(verbose_name="session data")),
                ("expire_date", models.DateTimeField(db_index=True, verbose_name="expire date")),
            ],
            options={"verbose_name": "stored session"},
            bases=(models.Model,),
        ),  # fmt: skip
        migrations.AlterField(
            model_name="usersession",
            name="session_key",
            field=models.CharField(blank=True, max_length=64, null=True, unique=True),
        ),
        migrations.RunPython(_on_postgresql(FORWARD), _on_postgresql(BACKWARD), elidable=False),
    ]
