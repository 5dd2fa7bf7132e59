"""``python -m movereg`` runs the command-line interface."""

from movereg.cli import main

raise SystemExit(main())
