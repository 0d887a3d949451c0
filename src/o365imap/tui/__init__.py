"""The terminal mail browser (``o365imap tui``).

``model`` and ``session`` hold the data and the one connection, and ``threads`` the threading
of the thread view; they import no Textual, so they can be tested and reused without it;
``app``, ``screens`` and ``widgets`` are the thin Textual front end, which only calls them from
thread workers and draws what comes back.
"""
