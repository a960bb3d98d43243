"""The customer panel: the contact on every channel and all their conversations."""
