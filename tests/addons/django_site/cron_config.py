"""A cron config written for RQ (``rq.cron.register``), run by django-rq's ``manage.py rqcron``."""

from rq import cron

from tests.addons import jobs

cron.register(jobs.add, queue_name="default", args=(20, 22), interval=3600)
