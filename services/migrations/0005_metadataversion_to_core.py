# MetadataVersion now belongs to the core app (core/migrations/0001_initial.py); the table
# stays where it is, so this only updates Django's state.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("services", "0004_revocations_use_db_roles"),
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="MetadataVersion")],
            database_operations=[],
        ),
    ]
