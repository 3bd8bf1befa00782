"""RQ's ``rq.contrib`` package, empty in RQ 3.0 as here: add-ons import it to extend it."""
