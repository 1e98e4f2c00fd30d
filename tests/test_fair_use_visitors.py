"""Who a generation is counted against, read from the request the page sends: the Hugging Face login kept in the
session (or Gradio's own login), else on a Space the address its proxy reports, else the socket's peer."""

from __future__ import annotations

from tabs import fair_use as gate


class Request:
    def __init__(self, *, username=None, session=None, forwarded=None, peer="10.0.0.7"):
        self.username = username
        self.headers = {"x-forwarded-for": forwarded} if forwarded else {}
        self.client = type("Client", (), {"host": peer})()
        if session is not None:
            self.session = session


def test_a_signed_in_visitor_is_counted_by_their_login_from_any_address(monkeypatch):
    monkeypatch.delenv("SPACE_ID", raising=False)
    signed_in = {"oauth_info": {"userinfo": {"preferred_username": "ana"}}}
    assert gate.visitor(Request(session=signed_in)) == "user:ana"
    assert gate.visitor(Request(session=signed_in, peer="10.9.9.9")) == "user:ana"
    assert gate.visitor(Request(username="bob", session=signed_in)) == "user:bob"
    assert gate.visitor(Request(session={})) == "ip:10.0.0.7"
    assert gate.visitor(Request()) == "ip:10.0.0.7"  # no session middleware: nobody is signed in
    assert gate.visitor(None) == "ip:local"


def test_on_a_space_the_address_the_proxy_saw_counts_and_elsewhere_the_header_is_ignored(monkeypatch):
    monkeypatch.setenv("SPACE_ID", "someone/video-studio")
    assert gate.visitor(Request(forwarded="6.6.6.6, 5.5.5.5")) == "ip:5.5.5.5"
    monkeypatch.delenv("SPACE_ID")
    assert gate.visitor(Request(forwarded="6.6.6.6, 5.5.5.5")) == "ip:10.0.0.7"
