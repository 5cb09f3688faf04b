"""Who is using this page, as ``sslcore.runs.owners`` proves it: a claimed name signed in with its secret, or,
where the deployer configured OpenID Connect, the account ``st.login`` signed in (``st.user``).

Nothing about a person travels in the URL: a link shares a view, never who opened it (a leftover ``?me=``
is dropped and grants nothing). After a name signs in, the browser keeps a signed, expiring pass in a cookie,
so a reload keeps who you are; Streamlit keeps its own cookie for OpenID Connect. Queueing (and saving a
design) asks who you are first (``owner_or_ask``). The teacher token, typed per session, overrides
everything. The run store decides what anyone may change; pages only hide the buttons a person could not use.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping

import streamlit as st

from sslcore import lab
from views.ui import run_store

PASS_COOKIE = "pretext_lab_pass"
OLD_NAME_PARAM = "me"  # links once carried the name: it is dropped, never read


def _owners() -> lab.Owners:
    return lab.Owners(run_store())


def oidc_configured() -> bool:
    """Whether the deployer set up ``st.login`` (an ``[auth]`` section in .streamlit/secrets.toml): Streamlit
    then always reports ``is_logged_in``. In that mode accounts are the only identities (no typed names)."""
    return "is_logged_in" in st.user


def identity() -> lab.Identity | None:
    """Who this person is proven to be, or None: the signed-in account, else the name signed in during this
    session, else the name of a valid pass this browser kept (read once per session)."""
    if oidc_configured():
        if not st.user.is_logged_in:
            return None
        who = st.session_state.get("identity")
        if who is None or who.kind != "oidc":
            try:
                who = st.session_state.identity = lab.oidc_identity(st.user.to_dict())
            except lab.ConfigError as err:
                st.session_state.owner_note = str(err)
                return None
        return who
    who = st.session_state.get("identity")
    if who is None and not st.session_state.get("_pass_read"):
        st.session_state._pass_read = True
        try:
            who = _owners().read_pass(st.context.cookies.get(PASS_COOKIE))
        except lab.PretextLabError:  # the store is unavailable: app.py says so; nobody is signed in
            who = None
        st.session_state.identity = who
    return who


def me() -> str:
    """The owner this page acts for: the proven identity, else this browser session (which owns nothing:
    queueing asks for a name first)."""
    if (who := identity()) is not None:
        return who.owner
    return st.session_state.setdefault("owner_session", f"session:{uuid.uuid4().hex}")


def owner_or_ask() -> str | None:
    """The owner of runs (or a design) about to be made; when nobody is signed in, asks who this is (a dialog)
    and returns None, so the caller queues nothing. Every queue and save button goes through here."""
    if (who := identity()) is not None:
        return who.owner
    _ask_who()
    return None


@st.dialog("Who is this?")
def _ask_who() -> None:
    if st.session_state.get("identity") is not None:  # signed in a moment ago, in this dialog
        if made := st.session_state.pop("new_secret", None):
            _show_new_secret(st, made)
            st.button("I have noted it", type="primary")  # its click reruns the dialog, which then closes
            return
        st.rerun()  # closes the dialog; the sidebar shows who you are
    st.markdown(
        "Runs belong to a person, so that only you (or the teacher) can cancel or delete them, after a reload "
        "too. **Sign in first, then press the button again.**"
    )
    if oidc_configured():
        _login_buttons(st)
    else:
        _sign_in_form(st, "ask")


def teacher_token() -> str | None:
    return st.session_state.get("teacher_token") or None


def is_teacher_here() -> bool:
    return lab.is_teacher(teacher_token())


def can_change(run) -> bool:
    """Whether this person may cancel or delete ``run`` (the store checks again when they do)."""
    return lab.may_change(run.owner, me(), teacher_token())


def owner_words(owner: str | None) -> str:
    """'you', or who else owns a run, in words."""
    return "you" if owner == me() else lab.display_owner(owner)


def _sign_in_form(where, key: str) -> None:
    """Name and secret: a free name is claimed (with the secret typed, or a made one shown once), a claimed
    one needs its secret. Handled in the button's callback, so it works wherever the form was drawn (the
    sidebar, or the dialog that asks before queueing); the fields are cleared after each try."""
    with where.form(f"{key}.sign_in", border=False, clear_on_submit=True):
        st.text_input("Your name", max_chars=40, placeholder="e.g. Ada", key=f"{key}.name")
        st.text_input(
            "Secret",
            type="password",
            max_chars=lab.MAX_SECRET_CHARS,
            key=f"{key}.secret",
            help=f"A new name: choose a secret ({lab.MIN_SECRET_CHARS}+ characters), or leave this empty and one "
            "is made for you. A name someone has claimed: its secret.",
        )
        st.form_submit_button("Sign in", type="primary", on_click=_sign_in, args=(key,))
    if refusal := st.session_state.pop(f"{key}.refused", None):
        where.error(refusal[0], icon=refusal[1])


def _sign_in(key: str) -> None:
    name = (st.session_state.get(f"{key}.name") or "").strip()
    secret = st.session_state.get(f"{key}.secret") or ""
    if not name:
        st.session_state[f"{key}.refused"] = ("Type a name first.", "⚠️")
        return
    try:
        who, made = _owners().sign_in_or_claim(name, secret)
        token = _owners().issue_pass(who)
    except lab.NameTaken as err:
        st.session_state[f"{key}.refused"] = (str(err), "🔒")
    except lab.PretextLabError as err:
        st.session_state[f"{key}.refused"] = (str(err), "⚠️")
    else:
        st.session_state.identity = who
        st.session_state.new_secret = made
        st.session_state.set_pass = token


def _show_new_secret(where, secret: str) -> None:
    where.success("The name is yours. Its secret, shown only now:", icon="🔑")
    where.code(secret, language=None)
    where.caption("Note it: you need it to sign in on another browser, or here after signing out.")


def _login_buttons(where) -> None:
    """One button per provider the deployer configured (``[auth.<name>]``), or one for the only provider."""
    section = st.secrets.get("auth", {})
    named = [name for name, value in section.items() if isinstance(value, Mapping) and name != "client_kwargs"]
    for provider in named or [None]:
        label = f"Sign in with {provider}" if provider else "Sign in"
        if where.button(label, type="primary", key=f"login.{provider}"):
            st.login(provider) if provider else st.login()


def _keep_pass(token: str, max_age_s: int) -> None:
    """Set (or with max_age_s=0 clear) the pass cookie from the browser itself: Streamlit only reads cookies."""
    secure = "location.protocol === 'https:' ? '; Secure' : ''"
    cookie = json.dumps(f"{PASS_COOKIE}={token}; Path=/; Max-Age={max_age_s}; SameSite=Strict")
    st.sidebar.html(f"<script>document.cookie = {cookie} + ({secure});</script>", unsafe_allow_javascript=True)


def _sign_out() -> None:
    st.session_state.identity = None
    st.session_state.pop("owner_session", None)
    st.session_state.clear_pass = True


def identity_sidebar() -> None:
    """The sidebar box: who you are (sign in or out), the teacher token, and whom your runs belong to."""
    if OLD_NAME_PARAM in st.query_params:  # a link from before: links never say who someone is
        del st.query_params[OLD_NAME_PARAM]
    who = identity()
    unfolded = who is None or bool(st.session_state.get("new_secret"))  # a made secret must be seen
    with st.sidebar.expander(f"👤 You: {who.label}" if who else "👤 You", expanded=unfolded):
        if oidc_configured():
            if who is not None:
                st.markdown(f"Signed in as **{who.label}** ({lab.display_owner(who.owner)}).")
                st.button("Sign out", key="logout", on_click=st.logout)
            else:
                st.caption("Sign in with your account: the runs you start are yours, after a reload too.")
                _login_buttons(st)
        elif who is not None:
            st.markdown(f"Signed in as **{who.label}**.")
            if made := st.session_state.pop("new_secret", None):
                _show_new_secret(st, made)
            st.caption("This browser stays signed in for two weeks (a signed pass, never in the page's address).")
            st.button("Sign out", key="sign_out", on_click=_sign_out)
        else:
            st.caption(
                "Pick a name to queue runs: the first to use a name claims it with a secret, and only that secret "
                "(or the teacher) can act as it. Others see the name, never the secret."
            )
            _sign_in_form(st, "you")
        if note := st.session_state.pop("owner_note", None):
            st.error(note, icon="⚠️")
        st.text_input(
            "Teacher token",
            type="password",
            key="teacher_token",
            help="Set when the server starts (PRETEXT_LAB_TEACHER_TOKEN). The teacher may cancel or delete any run "
            "and pin the class reference comparison.",
        )
        if teacher_token():
            if is_teacher_here():
                st.success("Teacher mode: you may change every run and pin the class reference.", icon="🎓")
            else:
                st.error("That is not the teacher token of this server.", icon="🔒")
        if who is not None:
            st.caption(f"Runs you start belong to **{lab.display_owner(who.owner)}**.")
    if token := st.session_state.pop("set_pass", None):
        _keep_pass(token, lab.PASS_MAX_AGE_S)
    if st.session_state.pop("clear_pass", False):
        _keep_pass("", 0)


def refused(err: Exception) -> None:
    st.error(str(err), icon="🔒" if isinstance(err, lab.NotAllowed) else "⚠️")
