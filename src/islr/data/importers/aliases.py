"""Sign names of imported recordings: folder names -> the names of a vocabulary.

Recordings name their signs however their owners typed them (``thanks``, ``thank_you``, ``NO``,
``i love you``). :class:`SignNames` turns such a name into the data set's sign name in three
steps, first match wins:

1. **Spelling**: case, ``_``/``-`` and runs of spaces are ignored (``thank_you``, ``Thank You``
   and ``thank  you`` are one name, ``thank you``).
2. **Aliases**: :data:`SIGN_ALIASES` (plus any the user adds) maps a spelling to a sign name,
   e.g. ``thanks`` -> ``thankyou``.
3. **The sign map** (``--sign-map``): a name matches a sign of the map when they are equal after
   step 1, or equal with the spaces removed as well (``thank you`` -> ``thankyou``,
   ``good morning`` -> a map's ``goodmorning``); the map's own spelling is kept (``tv`` -> ``TV``).

A name that matches no sign of the map is a new sign, appended to the map, or, with ``strict``,
an unknown sign (the recording is skipped and reported).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["SIGN_ALIASES", "SignNames", "spelling"]

SIGN_ALIASES: dict[str, str] = {
    "thanks": "thankyou",
    "thank you": "thankyou",
    "thank u": "thankyou",
    "i love you": "iloveyou",
    "ily": "iloveyou",
    "good bye": "goodbye",
    "bye bye": "bye",
}
"""Built-in aliases: a spelling (see :func:`spelling`) -> the sign name it stands for. Only
different ways of writing one sign; never two different signs (``hi`` is not ``hello``)."""

_SEPARATORS = re.compile(r"[\s_\-]+")


def spelling(name: str) -> str:
    """``name`` without case and separator differences: ``"Thank_You "`` -> ``"thank you"``."""
    return _SEPARATORS.sub(" ", name).strip().casefold()


class SignNames:
    """Resolve recordings' sign names onto a vocabulary (see the module docstring).

    Args:
        vocabulary: the signs of an existing sign map (``None``: no map, names are only
            normalised and aliased).
        aliases: extra aliases ``spelling -> sign``, applied before the built-in ones.
        builtin_aliases: whether :data:`SIGN_ALIASES` applies.
        strict: a name that matches no sign of ``vocabulary`` is unknown (:meth:`resolve`
            returns ``None``) instead of new.
    """

    def __init__(
        self,
        vocabulary: Mapping[str, int] | None = None,
        aliases: Mapping[str, str] | None = None,
        *,
        builtin_aliases: bool = True,
        strict: bool = False,
    ) -> None:
        table = dict(SIGN_ALIASES) if builtin_aliases else {}
        table.update({spelling(k): v for k, v in (aliases or {}).items()})
        self.aliases = table
        self.vocabulary = dict(vocabulary) if vocabulary is not None else None
        self.strict = strict and vocabulary is not None
        self._signs = set(vocabulary or ())
        self._vocabulary: dict[str, str] = {}
        for sign in vocabulary or ():
            self._vocabulary.setdefault(spelling(sign), sign)
            self._vocabulary.setdefault(spelling(sign).replace(" ", ""), sign)

    def resolve(self, name: str) -> str | None:
        """The sign name for folder name ``name``; ``None`` when unknown (``strict`` only)."""
        key = spelling(name)
        target = self.aliases.get(key, key)
        for candidate in (name, target, spelling(target), spelling(target).replace(" ", "")):
            if candidate in self._signs:
                return candidate
            if candidate in self._vocabulary:
                return self._vocabulary[candidate]
        if self.strict:
            return None
        return spelling(target)
