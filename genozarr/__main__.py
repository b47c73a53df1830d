"""``python -m genozarr``: the ``genozarr`` command line (:func:`genozarr.cli.main`)."""

from genozarr.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
