"""The broker conformance suite, one mixin class per concern; :mod:`jq.testing.broker_suite`
combines them into :class:`~jq.testing.broker_suite.BrokerContractTests`."""
