"""``python -m o365imap``: the same as the ``o365imap`` command."""

from o365imap.cli import main

if __name__ == "__main__":
    main()
