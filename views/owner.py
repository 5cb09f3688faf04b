"""Who is using this page: a typed display name (kept in the URL as ``?me=``) or this browser session,
and whether they hold the teacher token. The run store decides what they may change; pages only hide
the buttons a person could not use anyway."""

from __future__ import annotations

import uuid

import streamlit as st

from sslcore import lab

NAME_PARAM = "me"


def _name_from_url() -> None:
    """Read ``?me=`` once per session (a reload or a shared link keeps the name); refuse bad names in words."""
    if st.session_state.get("_owner_read"):
        return
    st.session_state._owner_read = True
    raw = st.query_params.get(NAME_PARAM)
    if raw:
        try:
            st.session_state.owner_name = lab.check_typed_name(raw)
        except lab.ConfigError as err:
            st.session_state.owner_note = f"Ignored the name in the link: {err}"


def me() -> str:
    """The owner of runs started from this page: the typed name, else this browser session."""
    _name_from_url()
    if st.session_state.get("owner_name"):
        return st.session_state.owner_name
    return st.session_state.setdefault("owner_session", f"session:{uuid.uuid4().hex}")


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


def url_params() -> dict[str, str]:
    """What a page that rewrites its URL must keep so a reload keeps the name."""
    name = st.session_state.get("owner_name")
    return {NAME_PARAM: name} if name else {}


def _set_name() -> None:
    raw = (st.session_state.get("_owner_input") or "").strip()
    st.session_state.pop("owner_note", None)
    if not raw:
        st.session_state.owner_name = None
        return
    try:
        st.session_state.owner_name = lab.check_typed_name(raw)
    except lab.ConfigError as err:
        st.session_state.owner_note = str(err)


def identity_sidebar() -> None:
    """The sidebar box: your name (optional), the teacher token, and the name kept in the URL."""
    me()
    with st.sidebar.expander("👤 You", expanded=not st.session_state.get("owner_name")):
        st.session_state.setdefault("_owner_input", st.session_state.get("owner_name") or "")
        st.text_input(
            "Your name",
            key="_owner_input",
            on_change=_set_name,
            max_chars=40,
            placeholder="e.g. Ada",
            help="Runs you start carry this name: only you (or the teacher) can cancel or delete them. It is kept "
            "in the page's address, so a reload keeps it. Without a name, runs belong to this browser tab.",
        )
        if note := st.session_state.get("owner_note"):
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
        st.caption(f"Runs you start belong to **{lab.display_owner(me())}**.")
    if name := st.session_state.get("owner_name"):
        if st.query_params.get(NAME_PARAM) != name:
            st.query_params[NAME_PARAM] = name
    elif NAME_PARAM in st.query_params:
        del st.query_params[NAME_PARAM]


def refused(err: Exception) -> None:
    st.error(str(err), icon="🔒" if isinstance(err, lab.NotAllowed) else "⚠️")
