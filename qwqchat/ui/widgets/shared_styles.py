"""Inline styles (em, strong, code) worked out once for the rows of a list, not once for each row.

As a widget is mounted, Textual styles each of its component classes (a
Markdown block's ``em``, ``strong``, ``s`` and ``code_inline``, a list row's
bullet) by matching the whole stylesheet against a virtual node: five matches
for every row of a list answer, 514 of the 636 matches while an 800-token list
answer streamed, and a third of the UI's CPU then (profiled).  Blocks of one
class under one parent, with the same CSS classes and pseudo-classes, get the
same styles (Textual caches a widget's own rules on the same terms while it
mounts a batch): the first block's are shared with the next ones.
"""

from __future__ import annotations

import functools
from typing import Dict, Tuple
from weakref import WeakKeyDictionary

from textual.dom import DOMNode

from .laid_out import C, _Mixin

# parent -> {(class, CSS classes, pseudo-classes): (the stylesheet's rules, the block whose styles are shared)}
_donors: WeakKeyDictionary[DOMNode, Dict[tuple, Tuple[object, DOMNode]]] = WeakKeyDictionary()


class SharedComponentStyles(_Mixin):
    """Mixed in first, before a Textual widget class."""

    def _get_component_classes(self) -> frozenset:  # type: ignore[override]
        """Asked by the stylesheet once it has styled this widget, for the component classes to style next:
        none when a sibling's styles are taken instead."""
        classes = super()._get_component_classes()
        parent = self._parent
        if not classes or not isinstance(parent, DOMNode) or self._has_order_style or self._has_odd_or_even:
            return classes
        rules = self.app.stylesheet.rules_map  # a new map when the theme or the CSS changes
        pseudo = self._pseudo_classes_cache_key
        key = (type(self), self.classes, pseudo)
        donors = _donors.setdefault(parent, {})
        entry = donors.get(key)
        if entry is not None:
            donor_rules, donor = entry
            if (
                donor_rules is rules
                and donor is not self
                and donor._parent is parent
                and donor._pseudo_classes_cache_key == pseudo
                and donor._component_styles.keys() == classes
            ):
                old, new = self._component_styles, dict(donor._component_styles)
                self._component_styles = new
                if any(old.get(name) != styles for name, styles in new.items()):
                    self.refresh()  # (as Textual does when they change)
                return frozenset()
        donors[key] = (rules, self)
        return classes


@functools.cache
def shared_styles(cls: C) -> C:
    """``cls`` with ``SharedComponentStyles``, under the same name (so its CSS still applies)."""
    return type(cls.__name__, (SharedComponentStyles, cls), {"__module__": cls.__module__})  # type: ignore[return-value]
