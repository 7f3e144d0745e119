"""The model side: the catalogue (names and quants, no I/O), fit arithmetic, this machine,
recommendation, downloads (hub.py) and the GGUF files already here (local.py)."""
