"""A cron config for process tests: one job every second."""

from jq.cron import Cron

cron = Cron()
cron.register("tests.fixtures.record_run", interval=1, args=("cron-runs",), name="every-second")
