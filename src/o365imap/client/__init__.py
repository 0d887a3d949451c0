"""The synchronous IMAP client.

- ``_driver``: the session driver, the sans-I/O ImapSession over a Transport with the one read
  loop: running commands, streaming answers, IDLE;
- ``_connection``: a session's life: connecting, STARTTLS, signing in, reconnecting, folders and
  opening one, logging out;
- ``_changes``: changing the mailbox: flags, copy, move, delete, folders;
- ``_client``: ImapClient, the mail on top (listing, fetching, searching, news);
- ``_args``: which messages, flag lists, UID sets cut to a safe length;
- ``_sections``: one body section as a byte stream, resumed after a cut;
- ``_policy``: retries, throttling, reconnects, resumes, and which error a refusal becomes.
"""

from o365imap.client._client import LISTING_ITEMS, ImapClient, Messages
from o365imap.client._driver import Mechanism

__all__ = ["LISTING_ITEMS", "ImapClient", "Mechanism", "Messages"]
