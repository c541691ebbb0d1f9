"""A fact may come from the register of schools and GP practices (manage.py import_services):
every model that records where its facts came from takes the new source."""

from django.db import migrations, models

SOURCES = [
    ("school_census", "School census"),
    ("child_benefit", "Child benefit"),
    ("gp_registration", "GP registrations"),
    ("la_system", "Local authority system"),
    ("practitioner", "Recorded by a practitioner"),
    ("service_register", "Register of schools and GP practices"),
    ("demo", "Demo data"),
]
WITH_A_SOURCE = (
    "address", "carerelationship", "child", "childname", "feedimport", "feedupload",
    "involvement", "parentcarer", "service", "sourcerecord",
)  # fmt: skip


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0010_feed_uploads"),
    ]

    operations = [
        migrations.AlterField(
            model_name=model,
            name="source",
            field=models.CharField(choices=SOURCES, max_length=20),
        )
        for model in WITH_A_SOURCE
    ]
