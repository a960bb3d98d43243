"""The shared wire schema: what the desk and the server say to each other, declared once.

``names`` (enums and sizes, no pydantic), ``wire`` (the pydantic request and response
models the OpenAPI document is generated from), ``rules`` (the messaging-window rule table),
``events`` (the system sentences a timeline shows). Both ``sync/`` and ``server/`` import
from here; this package imports neither (``app -> sync -> protocol <- server``).
"""
