"""o365imap: Office 365 and Outlook.com mail over IMAP with OAuth 2.0.

The public API lives here; everything else is private unless re-exported below.
"""

from o365imap.client import LISTING_ITEMS, ImapClient
from o365imap.errors import (
    AuthenticationFailed,
    AuthError,
    CapabilityMissing,
    CommandError,
    ConnectError,
    ConnectionClosed,
    FolderNotFound,
    InteractionRequired,
    NotConnectedAfterAuth,
    O365ImapError,
    ProtocolError,
    ReadTimeout,
    SessionExpired,
    SignInCancelled,
    SignInFailed,
    SignInTimeout,
    Throttled,
    TransportError,
    UsageError,
)
from o365imap.models import (
    Address,
    AddressEntry,
    BodyPart,
    Capabilities,
    Envelope,
    Folder,
    FolderInfo,
    FolderStatus,
    Group,
    MessageSummary,
    Namespace,
    StreamedLiteral,
)
from o365imap.protocol.commands import SequenceSet
from o365imap.transport import Security

__version__ = "0.1.0"

__all__ = [
    "LISTING_ITEMS",
    "Address",
    "AddressEntry",
    "AuthError",
    "AuthenticationFailed",
    "BodyPart",
    "Capabilities",
    "CapabilityMissing",
    "CommandError",
    "ConnectError",
    "ConnectionClosed",
    "Envelope",
    "Folder",
    "FolderInfo",
    "FolderNotFound",
    "FolderStatus",
    "Group",
    "ImapClient",
    "InteractionRequired",
    "MessageSummary",
    "Namespace",
    "NotConnectedAfterAuth",
    "O365ImapError",
    "ProtocolError",
    "ReadTimeout",
    "Security",
    "SequenceSet",
    "SessionExpired",
    "SignInCancelled",
    "SignInFailed",
    "SignInTimeout",
    "StreamedLiteral",
    "Throttled",
    "TransportError",
    "UsageError",
    "__version__",
]
