"""The broker conformance suite, one mixin class per concern; :mod:`jq.testing.broker_suite`
combines them into :class:`~jq.testing.broker_suite.BrokerContractTests`.

It runs under pytest and draws some of its cases with hypothesis: both come with jq's
``testing`` extra (``pip install 'jq-queue[testing]'``).
"""

try:
    import hypothesis  # noqa: F401
    import pytest  # noqa: F401
except ImportError as exc:  # one message that says what to install, before any contract module
    raise ModuleNotFoundError(
        f"jq's broker conformance suite (jq.testing.broker_suite) needs pytest and hypothesis, and "
        f"{exc.name} is not installed: pip install 'jq-queue[testing]'",
        name=exc.name,
    ) from exc
