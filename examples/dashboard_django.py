"""jq's dashboard inside a Django project, under /jq/, for staff members only.

    JQ_URL=redis://localhost:6379/0 python examples/dashboard_django.py runserver

In a real project the view and its URL go in an app's ``views.py`` and ``urls.py``; this file is
a whole project in one module so that it runs as it is. ``staff_member_required`` (Django's
admin login) decides who sees the dashboard; the dashboard checks its own CSRF token on every
action, so the view is exempt from Django's.
"""

from __future__ import annotations

import os
import sys

from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "change me"),
        ALLOWED_HOSTS=["127.0.0.1", "localhost", "testserver"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.admin",
            "django.contrib.messages",
        ],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
    )

import django

django.setup()

from django.contrib import admin  # noqa: E402
from django.contrib.admin.views.decorators import staff_member_required  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.urls import path, re_path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

from jq.dashboard import create_app  # noqa: E402
from jq.dashboard.mount import forward  # noqa: E402

dashboard = create_app(os.environ.get("JQ_URL", "redis://localhost:6379/0"))


@csrf_exempt  # the dashboard checks its own CSRF token on every action
@staff_member_required
def jq_dashboard(request: HttpRequest, path: str = "") -> HttpResponse:
    """Every page, asset and action of the dashboard, under /jq/."""
    answer = forward(dashboard, request.META, "/jq", path, body=request.body)
    response = HttpResponse(answer.body, status=answer.status_code)
    for name, value in answer.headers:
        if name.lower() == "set-cookie":
            response.cookies.load(value)  # Django sends the cookies it holds, not such headers
        else:
            response[name] = value
    return response


urlpatterns = [
    path("admin/", admin.site.urls),
    re_path(r"^jq/(?P<path>.*)$", jq_dashboard),
]

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
