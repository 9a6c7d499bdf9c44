# Skeleton columns for look-alike usernames (accounts.usernames): add, fill, then make unique.

from collections import defaultdict

from django.db import migrations, models

import accounts.models
from accounts.usernames import username_skeletons


def fill_skeletons(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    users = list(User.objects.only("pk", "username"))
    seen = defaultdict(list)
    for user in users:
        user.username_skeleton, user.username_folded_skeleton = username_skeletons(user.username)
        seen[user.username_skeleton].append(user.username)
        seen["folded:" + user.username_folded_skeleton].append(user.username)
    clashes = sorted({tuple(names) for names in seen.values() if len(names) > 1})
    if clashes:
        raise RuntimeError(f"Rename look-alike usernames before migrating: {clashes}")
    User.objects.bulk_update(users, ["username_skeleton", "username_folded_skeleton"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_admin_indexes"),
    ]

    operations = [
        migrations.AlterModelManagers(
            name="user",
            managers=[
                ("objects", accounts.models.LookalikeUserManager()),
            ],
        ),
        migrations.AddField(
            model_name="user",
            name="username_skeleton",
            field=models.TextField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="user",
            name="username_folded_skeleton",
            field=models.TextField(editable=False, null=True),
        ),
        migrations.RunPython(fill_skeletons, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="user",
            name="username_skeleton",
            field=models.TextField(editable=False, unique=True),
        ),
        migrations.AlterField(
            model_name="user",
            name="username_folded_skeleton",
            field=models.TextField(editable=False, unique=True),
        ),
    ]
