"""``manage.py`` of the test project, written as docs/moving-from-rq.md tells: jq answers ``rq``
before anything imports it."""

import jq

jq.install_as_rq()

import os  # noqa: E402
import sys  # noqa: E402

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.addons.django_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
