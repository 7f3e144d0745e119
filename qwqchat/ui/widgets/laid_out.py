"""Widgets that take their size from the layout pass that measured them, without asking for a second one.

While a reply streamed, every frame that grew it was laid out twice (a 98-item
list answer: 20 ms, then 9 ms again), taking the time from the model's threads:

- after a layout pass Textual hands every widget whose size changed its new
  size, and the widget, seeing its virtual size change, asks for another layout
  (``Widget._size_updated``), which finds the same sizes;
- a block built for the answer asks for a layout as its text is set, before it
  is mounted; that request comes after the layout its mount asked for.

The widgets a streaming reply grows or mounts are ``LaidOut``: they take their
size as it is, and a widget not yet in the DOM leaves its layout to its mount.  A
scrolling one still updates its scrollbars (Textual does that either way).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, TypeVar

from textual.containers import Horizontal, Vertical
from textual.widget import Widget

if TYPE_CHECKING:  # the widget classes it is mixed into
    _Mixin = Widget
else:
    _Mixin = object


class LaidOut(_Mixin):
    """Mixed in first, before a Textual widget class (Textual takes the CSS type from the first widget base)."""

    def _size_updated(self, size, virtual_size, container_size, layout: bool = True) -> bool:
        return super()._size_updated(size, virtual_size, container_size, layout=False)

    def refresh(self, *regions, repaint: bool = True, layout: bool = False, recompose: bool = False):
        """A widget not in the DOM yet (built, not mounted) asks for no layout of its own: mounting it lays out its
        parent.  (One being mounted still does: its children's mounts ask it for their layout.)"""
        attached = self._parent is not None
        return super().refresh(*regions, repaint=repaint, layout=layout and attached, recompose=recompose)


C = TypeVar("C", bound=type)
W = TypeVar("W", bound=Widget)


@functools.cache
def laid_out(cls: C) -> C:
    """``cls`` made ``LaidOut``, under the same name (so its CSS still applies)."""
    return type(cls.__name__, (LaidOut, cls), {"__module__": cls.__module__})  # type: ignore[return-value]


def relaid(widget: W) -> W:
    """``widget``, built by Textual as a plain widget inside one of its own (a fold's title, a code block's text),
    made ``LaidOut`` before it is mounted."""
    widget.__class__ = laid_out(type(widget))
    return widget


LaidOutVertical = laid_out(Vertical)
LaidOutHorizontal = laid_out(Horizontal)
