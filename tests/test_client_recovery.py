"""The driver's recovery paths, each a fault found in review of the session rewrite: a command
after a drained BYE, capabilities from before STARTTLS, a stream abandoned across a reconnect,
a timed-out stream's threshold, IDLE interrupted, old-style progress hooks."""

from __future__ import annotations

import pytest

from o365imap import CommandError, ConnectionClosed, ImapClient, Throttled
from scripted_server import (
    TOKEN,
    USER,
    Command,
    O365Session,
    ScriptedServer,
    _bye,
    client_for,
    make_message,
    o365_happy,
    throttled_bad_bye,
)

# ---------------------------------------------------------------- 1. BYE drained, then a command


def refused_with_expiry_bye(family: str):  # type: ignore[no-untyped-def]
    """The first ``family`` command gets ``NO`` and ``* BYE ... AccessTokenExpired`` in one
    send, then the close (the BYE is taken in by the driver's _drain after the refusal)."""
    used: list[Command] = []

    def hook(s: O365Session, cmd: Command) -> bool:
        if cmd.family != family or not s.authenticated or used:
            return False
        used.append(cmd)
        _bye(
            s, f"{cmd.tag} NO Request failed.\r\n* BYE Session invalidated - AccessTokenExpired\r\n"
        )
        return True

    return hook


def test_a_command_after_a_drained_expiry_bye_reconnects() -> None:
    """Old client: the next command found the connection gone, SessionExpired, reconnect and
    repeat. New: authenticated is derived from SessionState, which BYE turned to LOGOUT, so
    _require_signed_in raises UsageError before _send's SessionExpired path is reached."""
    tokens = iter(["fresh"])
    script = o365_happy([make_message(1, 101)], hooks=[refused_with_expiry_bye("STATUS")])
    with ScriptedServer(script) as server, client_for(server) as client:
        client.authenticate_oauth(USER, TOKEN, refresh=lambda: next(tokens))
        with pytest.raises(CommandError):
            client.status("INBOX")  # refused; the BYE after it is drained
        assert client.select("INBOX", readonly=True).exists == 1  # reconnects with "fresh"
    assert [t for _, t in server.xoauth2] == [TOKEN, "fresh"]


def test_after_bye_and_refusal_the_next_command_says_the_connection_closed() -> None:
    """Without a token source: the old client reported ConnectionClosed (a TransportError,
    with the BYE's text); the new one says "needs a signed-in connection:
    authenticate_oauth() first" (UsageError, a ValueError)."""
    with ScriptedServer(throttled_bad_bye(times=1, on="SELECT")) as server:
        with client_for(server, sleep=lambda _s: None) as client:
            client.authenticate_oauth(USER, TOKEN)
            with pytest.raises(Throttled):
                client.select("INBOX", readonly=True)
            with pytest.raises(ConnectionClosed):
                client.status("INBOX")


# ---------------------------------------------------------------- 2. STARTTLS OK's [CAPABILITY]


def test_capabilities_in_the_plain_text_starttls_ok_are_not_trusted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """RFC 3501 6.2.1 / RFC 2595 3.1: whatever came before the handshake is forgotten. The
    tagged OK of STARTTLS travels in plain text, so a [CAPABILITY ...] code on it (from the
    server, or written in by whoever sits in the middle) must not stand for the TLS session.
    The old client reset its capabilities after start_tls(); ImapSession._complete clears
    them and then takes the code of that very OK."""
    import ssl

    from o365imap.sandbox.tls import make_certificates
    from scripted_server import O365Config

    ca, cert, key = make_certificates(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def starttls_with_code(s: O365Session, cmd: Command) -> bool:
        if cmd.name != "STARTTLS":
            return False
        s.ok(cmd, "[CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] Begin TLS negotiation now.")
        s.conv.starttls()
        return True

    script = o365_happy(config=O365Config(starttls=True), hooks=[starttls_with_code])
    with ScriptedServer(script, starttls_context=context) as server:
        with ImapClient(
            "127.0.0.1", server.port, security="starttls", ca_file=str(ca), timeout=5
        ) as client:
            caps = client.capabilities
            assert "LOGINDISABLED" not in caps and "AUTH=XOAUTH2" in caps  # asked over TLS
            client.authenticate_oauth(USER, TOKEN)
    assert server.errors == []


# ---------------------------------------------------------------- 3. tags repeat after reconnect


def test_an_abandoned_stream_of_the_old_connection_leaves_the_new_ones_alone() -> None:
    """_stream keeps the open stream as its tag; tags start again at A0001 on every new
    session, so an abandoned generator of the old connection takes a new stream with the same
    tag for its own. Collected after the reconnect, its GeneratorExit reads that stream's
    answer to the end and throws it away. The old client kept the stream by identity."""
    import gc

    messages = [make_message(i, 100 + i) for i in range(1, 6)]
    tokens = iter(["fresh"])
    with ScriptedServer(o365_happy(messages)) as server, client_for(server) as client:
        client.authenticate_oauth(USER, TOKEN, refresh=lambda: next(tokens))
        client.select("INBOX", readonly=True)
        fetch = getattr(client, "iter_fetch", None) or client.fetch  # (the old name, to compare)
        first = fetch("1:*", "(UID FLAGS)")
        next(first)  # ... then kept alive (a traceback, a variable) while the session is renewed
        client.reconnect()
        second = fetch("1:*", "(UID FLAGS)")
        got = [next(second).items["UID"]]
        del first
        gc.collect()
        got += [f.items["UID"] for f in second]
    assert got == [101, 102, 103, 104, 105]


# ---------------------------------------------------------------- 4. old progress hooks


def test_save_message_still_takes_a_done_total_progress_callback(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """docs/api.md, "Renamed names": save_message(progress=callback(done, total)) still works
    in this release, with a DeprecationWarning. It raises TypeError mid-download instead."""
    import warnings

    from o365imap import save_message

    calls: list[tuple[int, int | None]] = []
    with ScriptedServer(o365_happy([make_message(1, 101)])) as server, client_for(server) as client:
        client.authenticate_oauth(USER, TOKEN)
        client.select("INBOX", readonly=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            save_message(
                client,
                101,
                tmp_path,
                progress=lambda done, total: calls.append((done, total)),  # type: ignore[arg-type,misc]
            )
    assert calls and any(w.category is DeprecationWarning for w in caught)


# ---------------------------------------------------------------- 5. threshold after a timeout


def test_a_timed_out_streamed_fetch_does_not_leave_its_threshold_behind() -> None:
    """The old client put the parser's threshold back in _stream's finally; the session puts
    it back at the command's tagged completion, and a command still in flight when the next
    starts makes the two restores cross. Here: a FETCH with a 64 KB threshold times out
    before any answer (the connection stays), the caller goes on with the same client; from
    then on every literal over 64 KB comes as a StreamedLiteral instead of bytes."""
    import time

    from o365imap import ReadTimeout, StreamedLiteral

    body = b"Subject: big\r\n\r\n" + b"x" * 100_000
    slow: list[Command] = []

    def slow_first_body(s: O365Session, cmd: Command) -> bool:
        if cmd.family != "FETCH" or "BODY" not in cmd.raw.decode() or slow:
            return False
        slow.append(cmd)
        s.conv.stall(0.8)  # then answered, late
        return False

    script = o365_happy([make_message(1, 101, body=body)], hooks=[slow_first_body])
    with ScriptedServer(script) as server, client_for(server, timeout=0.3) as client:
        client.authenticate_oauth(USER, TOKEN)
        client.select("INBOX", readonly=True)
        with pytest.raises(ReadTimeout):
            list(
                client.iter_fetch_events(
                    [101], "(UID BODY.PEEK[])", uid=True, stream_threshold=64 * 1024
                )
            )
        assert client.connected
        time.sleep(1.0)  # the late answer is in
        # What messages._fetch_one does (keep=1 MiB), then a plain fetch of the body:
        list(
            client.iter_fetch_events([101], "(UID RFC822.SIZE)", uid=True, stream_threshold=1 << 20)
        )
        fetch = getattr(client, "iter_fetch", None) or client.fetch
        [response] = [f for f in fetch([101], "(UID BODY.PEEK[])", uid=True) if "BODY[]" in f.items]
        assert not isinstance(response.items["BODY[]"], StreamedLiteral)
        assert response.items["BODY[]"] == body


def test_save_eml_parts_still_takes_a_part_done_total_progress_callback(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The 0.1 ProgressHook was (part, done, total); it too raises TypeError now."""
    import warnings

    from o365imap import save_eml_parts

    eml = tmp_path / "m.eml"
    eml.write_bytes(
        b"Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        b"Content-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/pdf\r\n"
        b"Content-Disposition: attachment; filename=a.pdf\r\n\r\n%PDF-1.4 data\r\n--b--\r\n"
    )
    calls = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        save_eml_parts(eml, tmp_path / "out", progress=lambda part, done, total: calls.append(done))  # type: ignore[arg-type,misc]
    assert calls and any(w.category is DeprecationWarning for w in caught)


# ---------------------------------------------------------------- 6. IDLE left by an exception


def idle_until_done(s: O365Session, cmd: Command) -> bool:
    if cmd.name != "IDLE":
        return False
    s.send("+ IDLE accepted, awaiting DONE command.")
    line = s.conv.read_line()
    if line.strip().upper() != b"DONE":
        s.conv.fail(f"expected DONE during IDLE, got {line!r}")
        s.bad(cmd, "Command Error. 12")
        return True
    s.ok(cmd, "IDLE completed.")
    return True


def test_a_stop_callback_that_raises_leaves_a_usable_connection() -> None:
    """stop() raising (or Ctrl-C in the short reads) leaves ImapSession idling: DONE is never
    sent, and every later command raises UsageError("end IDLE with done() first"), which no
    public call can do."""

    def stop() -> bool:
        raise RuntimeError("the application's own failure")

    with ScriptedServer(o365_happy([make_message(1, 101)], hooks=[idle_until_done])) as server:
        with client_for(server) as client:
            client.authenticate_oauth(USER, TOKEN)
            client.select("INBOX", readonly=True)
            with pytest.raises(RuntimeError):
                client.idle(5, stop=stop, poll=0.05)
            client.noop()
    assert server.errors == []


# ---------------------------------------------------------------- 7. CAPABILITY without an answer


def test_capabilities_are_asked_once_even_when_the_answer_is_empty() -> None:
    """The old client kept an empty set when CAPABILITY's answer named none; the driver
    leaves the session's None and asks again on every use (each a round trip)."""

    def bare_capability(s: O365Session, cmd: Command) -> bool:
        if cmd.name != "CAPABILITY":
            return False
        s.ok(cmd)
        return True

    with ScriptedServer(o365_happy(hooks=[bare_capability])) as server:
        with client_for(server) as client:
            for _ in range(3):
                assert "IDLE" not in client.capabilities
    assert len([line for line in server.received if b" CAPABILITY" in line]) == 1
