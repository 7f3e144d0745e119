"""qwqchat: a terminal chat app for local reasoning models such as QwQ-32B."""

import logging

logging.getLogger("qwqchat").addHandler(logging.NullHandler())
