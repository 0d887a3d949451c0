"""The synchronous IMAP client.

- ``_driver``: the session driver, the sans-I/O ImapSession over a Transport with the one read
  loop: running commands, streaming answers, IDLE;
- ``_connection``: a session's life: connecting, STARTTLS, signing in, reconnecting, opening a
  folder, logging out;
- ``_client``: ImapClient, the mail on top (folders, listing, fetching, searching, flags, news);
- ``_sections``: one body section as a byte stream, resumed after a cut;
- ``_policy``: retries, throttling, reconnects, resumes, and which error a refusal becomes.
"""

from o365imap.client._client import LISTING_ITEMS, ImapClient, Messages
from o365imap.client._driver import Mechanism

__all__ = ["LISTING_ITEMS", "ImapClient", "Mechanism", "Messages"]
