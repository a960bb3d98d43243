"""The open conversation: its thread, the composer and the pane that holds them."""
