"""A cron config for clock-skew tests: one job every 2 seconds onto queue ``cron-skew``, which no
worker takes, so that each fired job stays there with its tick in ``meta["cron_tick"]``."""

from jq.cron import Cron

cron = Cron()
cron.register("tests.fixtures.no_return", interval=2, queue="cron-skew", name="skew-every-2s")
