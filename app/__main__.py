"""`python -m app` is the same as the `hearth` command."""

from app.frozen import main

if __name__ == "__main__":
    raise SystemExit(main())
