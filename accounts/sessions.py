"""Where sessions are kept: Django's database store, with the one exception a double click on
"Change password" needs (``SessionStore.flush``)."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import transaction

# What is left under a session's old key when a new password renews it
# (accounts.middleware.session_renew).
RENEWED_HERE = "renewed_by_new_password"


class SessionStore(DatabaseSessionStore):
    """Django's database sessions (``SESSION_ENGINE``)."""

    # Set while accounts.middleware asks Django who is signed in (``flush``).
    keep_if_renewed = False
    # Whether this request's ``delete`` ended the session: False when another request (another
    # tab, at the same moment) or the daily clean-up ended it after this one read it; None
    # until it deletes.
    ended_here: bool | None = None

    def flush(self) -> None:
        """Ends the session, unless ``keep_if_renewed`` and another request renewed it after
        this one read it: a double click's first request, changing her password, left this
        key holding only that (``RENEWED_HERE``). Django, finding the password this copy was
        signed in with old, would delete what the first left and drop her browser's cookie,
        signing her out of the session the first renewed; this request takes what the first
        left instead, signed in as nobody, and changes nothing."""
        if self.keep_if_renewed and self.session_key is not None:
            stored = self.__class__(self.session_key)
            if stored.get(RENEWED_HERE):
                self.clear()
                self.update(dict(stored.items()))
                self.modified = False
                return
        super().flush()

    def delete(self, session_key: str | None = None) -> None:
        """Django's, saying whether there was a row to delete (``ended_here``)."""
        key = session_key if session_key is not None else self.session_key
        if key is not None:
            deleted, _ = self.model.objects.filter(session_key=key).delete()
            self.ended_here = deleted > 0


def still_stored(session: SessionBase) -> bool:
    """Whether the session a request is about to end is still stored, its row then locked
    until the request's transaction ends, so that another waits for it: False once another
    request ended it meanwhile (her sign-out in one tab as a page in another finds her
    10 hours up, two pages finding it at once) or the daily clean-up did, each recording its
    end. One that was never saved, or is not kept in the database, is taken as stored."""
    if not isinstance(session, DatabaseSessionStore) or session.session_key is None:
        return True
    with transaction.atomic():  # a lock outside a transaction is refused
        held = session.model.objects.select_for_update().filter(session_key=session.session_key)
        return held.values_list("session_key").first() is not None


@contextmanager
def kept_if_renewed(session: SessionBase) -> Iterator[None]:
    """While Django asks who is signed in (accounts.middleware): see ``SessionStore.flush``."""
    if not isinstance(session, SessionStore):  # a test's request, made without the middleware
        yield
        return
    session.keep_if_renewed = True
    try:
        yield
    finally:
        session.keep_if_renewed = False
