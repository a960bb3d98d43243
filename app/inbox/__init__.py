"""The inbox: navigation, the lazy conversation list and its view."""
