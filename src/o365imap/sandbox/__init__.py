"""Local stand-ins for Microsoft's services: JWT signing, a Dovecot IMAP server, seeded mailboxes.

Everything here runs on loopback and needs the ``sandbox`` extra (cryptography, PyJWT) and
Debian's ``dovecot-imapd``. Import the submodules directly; nothing is imported eagerly, so a
plain install of o365imap never pays for (or fails on) these dependencies.
"""
