"""A sensitive service is never a child's lead professional.

The lead professional is the contact other practitioners coordinate through, and a sensitive
service is hidden from them: a hidden lead left the record saying there was none, and refused
anyone who asked to take the lead without being able to say why. Any such lead is stood down
before the rule is added; the involvement itself stays. Undoing the migration drops the rule
and leaves the stood-down leads as they are (which they were is not kept).
"""

from django.db import migrations, models


def stand_down_sensitive_leads(apps, schema_editor):
    """One at a time, each with its entry in the child's change log (a bulk update would
    leave none), and how many were stood down said on the console."""
    Involvement = apps.get_model("directory", "Involvement")
    LogEntry = apps.get_model("auditlog", "LogEntry")
    ContentType = apps.get_model("contenttypes", "ContentType")
    leads = Involvement.objects.exclude(sensitive_category="").filter(lead_professional=True)
    kind = None
    stood_down = 0
    for involvement in leads.order_by("pk"):
        involvement.lead_professional = False
        involvement.save(update_fields=["lead_professional"])
        kind = (
            kind or ContentType.objects.get_or_create(app_label="directory", model="involvement")[0]
        )
        LogEntry.objects.create(
            content_type=kind, object_pk=str(involvement.pk), object_id=involvement.pk,
            object_repr=f"Involvement #{involvement.pk}", action=1,
            changes={"lead_professional": ["True", "False"]},
            additional_data={
                "child_ids": [involvement.child_id],
                "why": "A sensitive service is never the lead professional (migration 0013).",
            },
        )  # fmt: skip
        stood_down += 1
    if stood_down:
        print(f"\n  Stood down {stood_down} sensitive services as lead professional.")


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0012_parentcarer_phone_key"),
        ("auditlog", "0017_add_actor_email"),
        ("contenttypes", "0002_remove_content_type_name"),
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
