"""Create the `moderators` group (API.md: a moderator is a member of it)."""

from django.db import migrations

MODERATORS = "moderators"


def create_moderators_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.get_or_create(name=MODERATORS)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("auth_app", "0002_login_security_and_case_insensitive_uniques"),
    ]

    # Reversing leaves the group: it may have members by then.
    operations = [migrations.RunPython(create_moderators_group, migrations.RunPython.noop)]
