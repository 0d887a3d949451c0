"""o365imap: Office 365 and Outlook.com mail over IMAP with OAuth 2.0.

The public API lives here (docs/api.md shows it at work): a signed-in client from a saved
profile (``open_profile``) or from a token (``open_token``), ``ImapClient`` and what its methods
take and return, reading and saving messages, sending (``open_sender``, ``SmtpSender``,
``Draft``), and the errors. Modules named with a leading
underscore and the ``cli``, ``tui`` and ``sandbox`` packages are private; ``o365imap.auth``
(profiles, tokens, sign-in flows) and ``o365imap.protocol`` (the sans-I/O core) are public for
those who need more.
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

# The errors and limits load with the package (small, and every caller needs them); the rest
# on first use (see _LAZY below).
from o365imap.errors import (
    AuthenticationFailed,
    AuthError,
    CapabilityMissing,
    CommandError,
    ConnectError,
    ConnectionClosed,
    FolderNotFound,
    InteractionRequired,
    MaybeSent,
    MessageTooLarge,
    NotConnectedAfterAuth,
    O365ImapError,
    ProtocolError,
    ReadTimeout,
    RecipientsRefused,
    SandboxError,
    SendAsDenied,
    SendFailed,
    SessionExpired,
    SignInCancelled,
    SignInFailed,
    SignInTimeout,
    SmtpAuthDisabled,
    StorageError,
    Throttled,
    TransportError,
    UnsafeFileName,
    UsageError,
)
from o365imap.limits import DEFAULT_TIMEOUT

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_TIMEOUT",
    "LISTING_ITEMS",
    "Address",
    "AddressEntry",
    "Atom",
    "Attachment",
    "AuthError",
    "AuthenticationFailed",
    "BodyPart",
    "Capabilities",
    "CapabilityMissing",
    "CommandError",
    "ConnectError",
    "ConnectionClosed",
    "CopyResult",
    "DeliveryStatus",
    "Draft",
    "Envelope",
    "Fetch",
    "Folder",
    "FolderChanges",
    "FolderInfo",
    "FolderNotFound",
    "FolderStatus",
    "Group",
    "ImapClient",
    "InteractionRequired",
    "LiteralData",
    "LiteralEnded",
    "LiteralStarted",
    "MaybeSent",
    "Mechanism",
    "MessageNotFound",
    "MessageSummary",
    "MessageTooLarge",
    "MessageView",
    "Messages",
    "Namespace",
    "NotConnectedAfterAuth",
    "O365ImapError",
    "PartHook",
    "PartInfo",
    "Progress",
    "ProgressHook",
    "ProtocolError",
    "ReadTimeout",
    "RecipientStatus",
    "RecipientsRefused",
    "ReportInfo",
    "RetryPolicy",
    "SandboxError",
    "SavedPart",
    "Security",
    "SendAsDenied",
    "SendFailed",
    "SendResult",
    "SequenceSet",
    "SessionExpired",
    "SignInCancelled",
    "SignInFailed",
    "SignInTimeout",
    "SmtpAuthDisabled",
    "SmtpSender",
    "StorageError",
    "StreamedLiteral",
    "Throttled",
    "TransportError",
    "UnsafeFileName",
    "UsageError",
    "Writable",
    "__version__",
    "open_eml",
    "open_message",
    "open_profile",
    "open_sender",
    "open_token",
    "save_eml_parts",
    "save_message",
    "save_parts",
]


if _TYPE_CHECKING:
    from o365imap._transport import Security
    from o365imap.auth.connect import open_profile, open_sender, open_token
    from o365imap.client import LISTING_ITEMS, ImapClient, Mechanism, Messages
    from o365imap.client._policy import RetryPolicy
    from o365imap.compose import Attachment, Draft
    from o365imap.messages import (
        MessageNotFound,
        MessageView,
        PartHook,
        PartInfo,
        Progress,
        ProgressHook,
        ReportInfo,
        SavedPart,
        Writable,
        open_eml,
        open_message,
        save_eml_parts,
        save_message,
        save_parts,
    )
    from o365imap.mime.report import DeliveryStatus, RecipientStatus
    from o365imap.models import (
        Address,
        AddressEntry,
        BodyPart,
        Capabilities,
        CopyResult,
        Envelope,
        Folder,
        FolderChanges,
        FolderInfo,
        FolderStatus,
        Group,
        MessageSummary,
        Namespace,
        StreamedLiteral,
    )
    from o365imap.protocol import (
        Atom,
        Fetch,
        LiteralData,
        LiteralEnded,
        LiteralStarted,
        SequenceSet,
    )
    from o365imap.smtp import SendResult, SmtpSender

# Everything else loads on first use (PEP 562), so that a program pays only for what it
# touches: `o365imap token` (a mail client's password command, run on every connection)
# needs neither the IMAP client nor msal when the saved token is fresh, and a script that only
# reads mail starts without sending's modules.
_LAZY_FROM = {
    "o365imap._transport": ("Security",),
    "o365imap.auth.connect": ("open_profile", "open_sender", "open_token"),
    "o365imap.client": ("LISTING_ITEMS", "ImapClient", "Mechanism", "Messages"),
    "o365imap.client._policy": ("RetryPolicy",),
    "o365imap.messages": (
        "MessageNotFound",
        "MessageView",
        "PartHook",
        "PartInfo",
        "Progress",
        "ProgressHook",
        "ReportInfo",
        "SavedPart",
        "Writable",
        "open_eml",
        "open_message",
        "save_eml_parts",
        "save_message",
        "save_parts",
    ),
    "o365imap.mime.report": ("DeliveryStatus", "RecipientStatus"),
    "o365imap.models": (
        "Address",
        "AddressEntry",
        "BodyPart",
        "Capabilities",
        "CopyResult",
        "Envelope",
        "Folder",
        "FolderChanges",
        "FolderInfo",
        "FolderStatus",
        "Group",
        "MessageSummary",
        "Namespace",
        "StreamedLiteral",
    ),
    "o365imap.protocol": (
        "Atom",
        "Fetch",
        "LiteralData",
        "LiteralEnded",
        "LiteralStarted",
        "SequenceSet",
    ),
    "o365imap.compose": ("Attachment", "Draft"),
    "o365imap.smtp": ("SendResult", "SmtpSender"),
}
_LAZY = {name: module for module, names in _LAZY_FROM.items() for name in names}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'o365imap' has no attribute {name!r}")
    # __import__, not importlib.import_module: the same import, but one that `python -X
    # importtime` reports (it times the import statement's path only), as the start-up bench
    # needs.
    value = getattr(__import__(module, fromlist=[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
