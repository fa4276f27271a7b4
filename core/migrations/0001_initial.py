# The MetadataVersion model moves here from the services app; its table stays as it is.

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [("services", "0004_revocations_use_db_roles")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="MetadataVersion",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("version", models.BigIntegerField(default=0)),
                        ("revocations", models.BigIntegerField(default=0)),
                    ],
                    options={
                        "verbose_name": "metadata version",
                        "db_table": "services_metadataversion",
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
