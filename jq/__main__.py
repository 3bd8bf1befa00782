"""``python -m jq`` runs the ``jqueue`` command."""

from jq.cli import main

if __name__ == "__main__":
    main()
