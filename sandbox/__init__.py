"""A local stand-in for the two external APIs, so tests and `make demo` run with no internet.

`SandboxServer` (in `server.py`) serves a fake Al-Style API under `/alstyle/api/` and a fake Kaspi
Shop API under `/kaspi/shop/api/v2/` (its Kaspi Delivery waybill PDFs under `/kaspi/waybills/`)
from memory. Its data comes from a seed (`data.py`); its behaviour, the quirks of the real
services included, is steered through `SandboxState` (`state.py`). It uses no Django models: it
plays an outside service.
"""
