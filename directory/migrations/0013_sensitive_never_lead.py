"""A sensitive service is never a child's lead professional.

The lead professional is the contact other practitioners coordinate through, and a sensitive
service is hidden from them: a hidden lead left the record saying there was none, and refused
anyone who asked to take the lead without being able to say why. Any such lead is stood down
before the rule is added; the involvement itself stays. Undoing the migration drops the rule
and leaves the stood-down leads as they are (which they were is not kept).
"""

from django.db import migrations, models


def stand_down_sensitive_leads(apps, schema_editor):
    Involvement = apps.get_model("directory", "Involvement")
    Involvement.objects.exclude(sensitive_category="").filter(lead_professional=True).update(
        lead_professional=False
    )


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0012_parentcarer_phone_key"),
    ]

    operations = [
        migrations.RunPython(stand_down_sensitive_leads, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="involvement",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("sensitive_category", ""), ("lead_professional", False), _connector="OR"
                ),
                name="involvement_sensitive_never_lead",
            ),
        ),
    ]
