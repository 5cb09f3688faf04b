"""Signing in on an AppTest page the way a person does: a name and its secret in the sidebar's You box (the
first use of a name claims it with that secret). Not a test module."""

from __future__ import annotations

SIGN_IN = "FormSubmitter:you.sign_in-Sign in"


def sign_in(at, name: str, secret: str | None = None):
    """Type ``name`` and its secret (by default "<name>'s secret") into the You box and press Sign in."""
    at.sidebar.text_input(key="you.name").input(name)
    at.sidebar.text_input(key="you.secret").input(secret if secret is not None else f"{name}'s secret")
    return at.sidebar.button(key=SIGN_IN).click().run()
