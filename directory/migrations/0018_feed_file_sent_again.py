"""A file imported with rows left out may be sent again to bring in the rows that now pass.

Each import notes the rows it left out (``left_out``; imports made before this migration did
not, and stay null), and a re-send is an import of its own naming the file's first
(``resend_of``), so a file is still imported once: only first imports are unique by content.
Going back stops while any re-send is held: the old rule would refuse it, and deleting it
would lose who sent what.
"""

import django.db.models.deletion
from django.db import migrations, models


def resends_kept(apps, schema_editor):
    FeedImport = apps.get_model("directory", "FeedImport")
    resent = FeedImport.objects.filter(resend_of__isnull=False).count()
    if resent:
        raise RuntimeError(
            f"Migration 0018 cannot be undone: {resent} imports are files sent again, which "
            "the rule of before (one import for each file) cannot hold. Keep 0018 applied."
        )


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0017_rekey_names_beyond_ascii"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="feedimport", name="feed_file_once"),
        migrations.AddField(
            model_name="feedimport",
            name="left_out",
            field=models.JSONField(
                blank=True,
                help_text="The numbers of the rows left out; null where not noted (imported "
                "before ContactPoint noted them)",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="feedimport",
            name="resend_of",
            field=models.ForeignKey(
                blank=True,
                help_text="The file's first import, when this is the same file sent again to "
                "import rows left out of it",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="resends",
                to="directory.feedimport",
            ),
        ),
        migrations.AddConstraint(
            model_name="feedimport",
            constraint=models.UniqueConstraint(
                condition=models.Q(("resend_of__isnull", True)),
                fields=("source", "file_sha256"),
                name="feed_file_once",
            ),
        ),
        migrations.RunPython(migrations.RunPython.noop, resends_kept),
    ]
